// Keep-alive, unknown methods, non-blocking sends (t_10).
// SPDX-License-Identifier: MIT
import {
    GW1, GW2, KEY_A, check, checkEqual, connect, expectReject, log, run,
    sleep, stopAll, within,
} from './lib.mjs';

run(async () => {
    const a = await connect(GW1, '/hubs/tasks', KEY_A, { serverTimeoutMs: 3000 });
    const b = await connect(GW2, '/hubs/tasks', KEY_A, { serverTimeoutMs: 3000 });
    const ids = [a.conn.connectionId, b.conn.connectionId];
    log('connected; idling 6 s');
    await sleep(6000);
    for (const [i, c] of [a, b].entries()) {
        const where = i ? 'gateway B' : 'gateway A';
        checkEqual(c.conn.state, 'Connected', `${where}: state after 6 s idle`);
        check(!c.closed && c.reconnecting === 0,
            `${where}: connection dropped while idle (closed: ${c.closed}, reconnecting: ${c.reconnecting})`);
        checkEqual(c.conn.connectionId, ids[i], `${where}: connection id (a reconnect happened)`);
        const pings = c.types[6] ?? 0;
        check(pings >= 3, `${where}: only ${pings} pings in 6 s with keepalive_ms=1000`);
        log(`${where}: ${pings} pings`);
    }

    const want = "Failed to invoke 'NoSuchMethod' due to an error on the server. HubException: Method does not exist.";
    const msg = await expectReject(a.conn.invoke('NoSuchMethod'), 5000, 'invoke NoSuchMethod');
    checkEqual(msg, want, 'error of an unknown method');
    const msg2 = await expectReject(a.conn.invoke('NoSuchMethod', 1, 'two'), 5000,
        'invoke NoSuchMethod with arguments');
    checkEqual(msg2, want, 'error of an unknown method with arguments');

    const before = a.messages.length;
    await within(a.conn.send('NoSuchMethod', 1), 5000, 'send NoSuchMethod');
    await within(a.conn.send('SubscribeToTaskType', 'video'), 5000, 'send SubscribeToTaskType');
    await sleep(1500);
    const after = a.messages.slice(before);
    checkEqual(after.filter((m) => m.type === 3 || m.type === 7), [],
        'messages answering non-blocking sends');
    checkEqual(a.conn.state, 'Connected', 'state after non-blocking sends');
    check(!a.closed && a.reconnecting === 0, 'connection dropped after a non-blocking send');

    // still usable: a blocking call of a real method completes
    const r = await within(a.conn.invoke('SubscribeToTaskType', 'image'), 5000,
        'invoke SubscribeToTaskType');
    check(r === null || r === undefined, `SubscribeToTaskType returned ${JSON.stringify(r)}`);
    await stopAll([a, b]);
});

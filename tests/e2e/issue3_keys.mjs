// Issue #3 (t_74): disabling a key closes its live connections on every
// gateway within one second (Close with the error, no reconnect), refuses
// new ones with 401 at negotiate (the official client and curl), leaves
// other keys alone, and tells the admin hub; enabling it lets it connect
// again.
// SPDX-License-Identifier: MIT
import { spawnSync } from 'node:child_process';
import {
    GW1, GW2, KEY_A, KEY_B, MASTER_KEY, check, checkEqual, connect, eventsOf, expectRefused,
    log, pubOk, received, run, sleep, stopAll, waitFor,
} from './lib.mjs';

const SPEND = '/hubs/spend-notifications';

// POST negotiate with curl; returns the HTTP status as a string.
function negotiate(base, path, key) {
    const r = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', '-X', 'POST',
        '-H', `Authorization: Bearer ${key}`, `${base}${path}/negotiate?negotiateVersion=1`], { encoding: 'utf8' });
    return r.stdout;
}

run(async () => {
    const admin = await connect(GW1, '/hubs/admin-notifications', MASTER_KEY,
        { targets: ['VirtualKeyUpdated', 'VirtualKeyDeleted'], name: 'master/gwA' });
    const b1 = await connect(GW1, SPEND, KEY_B, { targets: ['SpendUpdate'], name: 'key2 spend/gwA' });
    const b2 = await connect(GW2, '/hubs/tasks', KEY_B, { targets: ['TaskStarted'], name: 'key2 tasks/gwB' });
    const a1 = await connect(GW2, SPEND, KEY_A, { targets: ['SpendUpdate'], name: 'key1 spend/gwB' });
    for (const c of [b1, b2]) {
        c.conn.onclose(() => { c.closedAt = Date.now(); });
    }
    checkEqual(negotiate(GW2, SPEND, KEY_B), '200', 'curl negotiate of key 2 before disable');

    const t0 = Date.now();
    pubOk(['key', 'disable', '--id', '2']);
    await waitFor(() => b1.closed !== null && b2.closed !== null, 1000,
        () => `both connections of key 2 closed within 1 s of the disable (gwA: ${b1.closed}, gwB: ${b2.closed})`);
    for (const c of [b1, b2]) {
        log(`${c.name} closed after ${c.closedAt - t0} ms: ${c.closed}`);
        check(c.closed instanceof Error && String(c.closed.message).includes('Virtual key disabled'),
            `${c.name} closed with an error naming the reason: ${c.closed}`);
    }
    await sleep(1500); // an automatic reconnect would have started by now
    for (const c of [b1, b2]) {
        checkEqual(c.reconnecting, 0, `reconnect attempts of ${c.name}`);
        checkEqual(c.conn.state, 'Disconnected', `state of ${c.name}`);
    }
    checkEqual(a1.conn.state, 'Connected', 'key 1 connection after key 2 was disabled');
    await expectRefused(GW1, SPEND, KEY_B, 'the disabled key on gwA');
    await expectRefused(GW2, '/hubs/tasks', KEY_B, 'the disabled key on gwB');
    checkEqual(negotiate(GW1, SPEND, KEY_B), '401', 'curl negotiate of the disabled key on gwA');
    checkEqual(negotiate(GW2, SPEND, KEY_B), '401', 'curl negotiate of the disabled key on gwB');
    await waitFor(() => eventsOf(admin, 'VirtualKeyUpdated').length >= 1, 3000,
        () => `VirtualKeyUpdated; ${received(admin)}`);
    const upd = eventsOf(admin, 'VirtualKeyUpdated')[0].args[0];
    checkEqual([upd.virtualKeyId, upd.enabled, upd.change, upd.name], [2, false, 'disabled', 'demo-tenant-b'],
        'VirtualKeyUpdated [id, enabled, change, name]');
    check(!JSON.stringify(upd).includes(KEY_B), 'no key material in VirtualKeyUpdated');
    // key 1 is untouched
    pubOk(['spend', '--key', '1', '--amount', '1', '--total', '1']);
    await waitFor(() => eventsOf(a1, 'SpendUpdate').length === 1, 5000, () => `key 1's update; ${received(a1)}`);
    log('disable: closed everywhere, refused, announced');

    pubOk(['key', 'enable', '--id', '2']);
    checkEqual(negotiate(GW1, SPEND, KEY_B), '200', 'curl negotiate after enable');
    const b3 = await connect(GW2, SPEND, KEY_B, { targets: ['SpendUpdate'], name: 'key2 again/gwB' });
    pubOk(['spend', '--key', '2', '--amount', '1', '--total', '1']);
    await waitFor(() => eventsOf(b3, 'SpendUpdate').length === 1, 5000, () => `key 2's update; ${received(b3)}`);
    await waitFor(() => eventsOf(admin, 'VirtualKeyUpdated').length >= 2, 3000,
        () => `the second VirtualKeyUpdated; ${received(admin)}`);
    checkEqual(eventsOf(admin, 'VirtualKeyUpdated')[1].args[0].change, 'enabled', 'change of the enable');
    log('enable: connects and receives again');
    await stopAll([admin, a1, b3]);
});

// The gateway's limits as the official client meets them (t_96): an
// oversize message closes the connection with the .NET text and no
// reconnect; calls over the invocation rate get the rate-limit error
// Completion and the connection stays; the connection cap refuses start()
// with 503 and the per-address connect rate with 429.
//
//   node issue4gw_limits.mjs BASE_A BASE_C BASE_D   (see issue4gw_limits.py)
//
// SPDX-License-Identifier: MIT
import {
    KEY_A, check, checkEqual, connect, expectReject, log, run, signalR, sleep,
    stopAll, waitFor, within,
} from './lib.mjs';

const [A, C, D] = process.argv.slice(2);

// The gateway's windows are whole seconds of CLOCK_MONOTONIC, which is
// what process.hrtime reads on Linux.
async function alignToSecond() {
    const ms = Number(process.hrtime.bigint() / 1000000n) % 1000;
    await sleep(1000 - ms + 20);
}

function builder(base, path) {
    return new signalR.HubConnectionBuilder()
        .withUrl(base + path, { accessTokenFactory: () => KEY_A })
        .withAutomaticReconnect()
        .configureLogging(signalR.LogLevel.None)
        .build();
}

run(async () => {
    // 1. a message over gateway.max_message_bytes (4096)
    const big = await connect(A, '/hubs/tasks', KEY_A, { name: 'oversize', keepAliveMs: 500 });
    const ok = await expectReject(big.conn.invoke('SubscribeToTask', 'x'.repeat(3000)), 5000,
        'a call of 3 KB');
    check(ok.endsWith('Task not found'), `error of a call under the size limit: ${ok}`);
    const msg = await expectReject(big.conn.invoke('SubscribeToTask', 'x'.repeat(5000)), 5000,
        'a call of 5 KB');
    log(`5 KB call: ${msg}`);
    await waitFor(() => big.closed, 5000, 'the close of the oversize connection');
    const want = 'The maximum message size of 4096B was exceeded.';
    check(String(big.closed.message ?? big.closed).includes(want),
        `close error of an oversize message: ${big.closed.message ?? big.closed}`);
    await sleep(1500);
    checkEqual(big.reconnecting, 0, 'reconnect attempts after an oversize message');
    checkEqual(big.conn.state, 'Disconnected', 'state after an oversize message');
    log(`oversize message: closed with "${big.closed.message}", no reconnect`);

    // 2. gateway.invocations_per_sec (5): 12 calls at once
    const r = await connect(A, '/hubs/tasks', KEY_A, { name: 'rate', keepAliveMs: 500 });
    const results = await within(Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => r.conn.invoke('SubscribeToTask', `t-${i}`))),
    10000, '12 calls');
    const rateText = "An unexpected error occurred invoking 'SubscribeToTask' on the server. " +
        'HubException: Rate limit exceeded. Please try again later.';
    const limited = results.filter((x) => x.status === 'rejected' && x.reason.message === rateText);
    const others = results.filter((x) => !(x.status === 'rejected' && x.reason.message === rateText));
    check(limited.length >= 2 && limited.length <= 7,
        `${limited.length} of 12 calls rate limited: ${JSON.stringify(results.map((x) => x.reason?.message))}`);
    check(others.every((x) => x.status === 'rejected' && x.reason.message.endsWith('Task not found')),
        `calls within the rate: ${JSON.stringify(others.map((x) => x.reason?.message ?? x.value))}`);
    await sleep(1100);
    checkEqual(await within(r.conn.invoke('SubscribeToTaskType', 'video'), 5000, 'a call later'),
        null, 'a call after the burst');
    checkEqual(r.conn.state, 'Connected', 'state after the burst');
    check(!r.closed && r.reconnecting === 0, 'the rate-limited connection was dropped');
    log(`12 calls at once: ${limited.length} refused with "${rateText}"`);

    // 3. gateway.max_connections (5)
    const five = [];
    for (let i = 0; i < 5; i++)
        five.push(await connect(C, '/hubs/notifications', KEY_A, { name: `cap-${i}` }));
    const sixth = builder(C, '/hubs/notifications');
    const capMsg = await expectReject(sixth.start(), 10000, 'the sixth start()');
    check(capMsg.includes('503'), `sixth start() failed, but not with 503: ${capMsg}`);
    log(`max_connections: sixth start() rejected: ${capMsg}`);
    await within(five.pop().conn.stop(), 5000, 'stop of one');
    // the client's stop() resolves before the gateway has seen the close:
    // wait for its count to fall, or the next connect may still get 503
    const deadline = Date.now() + 5000;
    let open = -1;
    while ((open = (await (await fetch(`${C}/healthz`)).json()).connections) > 4) {
        check(Date.now() < deadline, `the gateway still counts ${open} connections after a stop`);
        await sleep(20);
    }
    const again = await connect(C, '/hubs/notifications', KEY_A, { name: 'cap-again' });
    await stopAll([...five, again]);

    // 4. gateway.connects_per_ip_per_sec (5): start() negotiates once;
    // seven at once within one second: five connect, two get 429 (a
    // burst that spills into the next second on a busy machine is retried)
    const second = () => Number(process.hrtime.bigint() / 1000000000n);
    let done = false;
    for (let attempt = 0; attempt < 3 && !done; attempt++) {
        await alignToSecond();
        const s0 = second();
        const t0 = Date.now();
        const starts = Array.from({ length: 7 }, () => builder(D, '/hubs/notifications'));
        const res = await within(Promise.allSettled(starts.map((s) => s.start())), 10000, '7 starts');
        const took = Date.now() - t0;
        const s1 = second();
        const refused = res.filter((x) => x.status === 'rejected');
        for (const x of refused)
            check(x.reason.message.includes('429'), `a start() failed, but not with 429: ${x.reason.message}`);
        await within(Promise.all(starts.map((s) => s.stop())), 5000, 'stop of the starts');
        if (s1 !== s0) {
            log(`7 start()s took ${took} ms, into the next second: again`);
            continue;
        }
        checkEqual(refused.length, 2, `starts refused of 7 within ${took} ms`);
        log(`7 start()s within ${took} ms: ${refused.length} refused (${refused[0]?.reason.message})`);
        done = true;
    }
    check(done, 'no burst of 7 start()s fitted in one second');
    await stopAll([r]);
});

// Issue #4 (t_93): broker.max_conns_per_key=3 and broker.max_conns_total=6
// are enforced fleet-wide. Three connections of key 1 (over both
// gateways) are accepted; the fourth is refused (its start() rejects: 429
// at negotiate) while key 2 still connects; a sixth connection (key 3)
// fills the total, after which key 2, still under its own cap, is refused
// too; once one of key 1's connections is stopped, a new one is accepted
// again (the broker heard the CONN_CLOSE).
// SPDX-License-Identifier: MIT
import {
    GW1, GW2, KEY_A, KEY_ADMIN, KEY_B, check, checkEqual, connect, expectReject, fail, log, pub, run, signalR, sleep, stopAll,
} from './lib.mjs';

const HUB = '/hubs/spend-notifications';

function stats() {
    const r = pub(['--timeout', '1000', 'stats']);
    if (r.status !== 0) fail(`conduit-pub stats: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout);
}

function bare(base, key) {
    return new signalR.HubConnectionBuilder()
        .withUrl(base + HUB, { accessTokenFactory: () => key })
        .configureLogging(signalR.LogLevel.None)
        .build();
}

// start() of one more connection of key must fail with 429.
async function expectCapped(base, key, what) {
    const conn = bare(base, key);
    const why = await expectReject(conn.start(), 10000, `start() of ${what}`);
    check(/429/.test(why), `${what} refused, but not with 429: ${why}`);
    checkEqual(conn.state, 'Disconnected', `state of ${what}`);
    log(`${what} refused: ${why.slice(0, 120)}`);
}

run(async () => {
    const a = [
        await connect(GW1, HUB, KEY_A, { name: 'key1 #1/gwA' }),
        await connect(GW2, HUB, KEY_A, { name: 'key1 #2/gwB' }),
        await connect(GW1, HUB, KEY_A, { name: 'key1 #3/gwA' }),
    ];
    checkEqual(stats().connections, 3, 'connections after three of key 1');
    await expectCapped(GW2, KEY_A, 'the 4th key-1 connection (gwB)');
    await expectCapped(GW1, KEY_A, 'the 4th key-1 connection (gwA)');
    // other keys are not affected
    const b = [await connect(GW1, HUB, KEY_B, { name: 'key2 #1/gwA' }),
        await connect(GW2, HUB, KEY_B, { name: 'key2 #2/gwB' })];
    let s = stats();
    checkEqual(s.connections, 5, 'connections with key 2 added');
    check(s.auth_refused >= 2, `the refusals are counted (auth_refused ${s.auth_refused})`);
    for (const c of a) checkEqual(c.closed, null, `${c.name} still open`);
    // the sixth connection fills the total cap: key 2 (2 of 3) is refused
    const k3 = await connect(GW2, HUB, KEY_ADMIN, { name: 'key3 #1/gwB' });
    checkEqual(stats().connections, 6, 'connections at the total cap');
    await expectCapped(GW1, KEY_B, 'a 3rd key-2 connection beyond the total cap');
    s = stats();
    checkEqual(s.connections, 6, 'connections after the refusals');

    // closing one frees a slot, fleet-wide: stop one on gwB, open on gwA
    await a[1].conn.stop();
    const t0 = Date.now();
    while (stats().connections !== 5) {
        if (Date.now() - t0 > 5000) fail('the broker did not hear the close within 5 s');
        await sleep(50);
    }
    const again = await connect(GW1, HUB, KEY_A, { name: 'key1 #4/gwA (after a close)' });
    checkEqual(stats().connections, 6, 'connections after reusing the slot');
    await expectCapped(GW2, KEY_A, 'a 4th key-1 connection again');
    await stopAll([a[0], a[2], again, k3, ...b]);
});

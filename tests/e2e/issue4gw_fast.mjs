// The fast consumers of t_95: N official clients on one gateway, all in
// the broadcast group system-notifications. Writes READY_FILE when all are
// connected, then waits until every client has received TOTAL
// SystemAnnouncement events and checks each got all of them, in order,
// without a close or a reconnect. Prints the slowest arrival after the
// first event (how long the stream took to reach everyone).
//
//   node issue4gw_fast.mjs BASE N TOTAL READY_FILE
//
// SPDX-License-Identifier: MIT
import { writeFileSync } from 'node:fs';
import { KEY_A, KEY_B, checkEqual, connect, eventsOf, fail, log, run, sleep, stopAll } from './lib.mjs';

const [base, nStr, totalStr, readyFile] = process.argv.slice(2);
const n = Number(nStr);
const total = Number(totalStr);

run(async () => {
    const conns = [];
    for (let i = 0; i < n; i++) {
        conns.push(await connect(base, '/hubs/notifications', i % 2 ? KEY_A : KEY_B, {
            targets: ['SystemAnnouncement'], name: `fast-${i}`,
        }));
    }
    writeFileSync(readyFile, 'ready\n');
    const deadline = Date.now() + 70000;
    let first = 0;
    for (;;) {
        const counts = conns.map((c) => eventsOf(c, 'SystemAnnouncement').length);
        if (!first && counts.some((x) => x > 0)) first = Date.now();
        if (counts.every((x) => x >= total)) break;
        for (const c of conns)
            if (c.closed || c.reconnecting)
                fail(`${c.name} was closed (${c.closed}) after ${eventsOf(c, 'SystemAnnouncement').length} events`);
        if (Date.now() > deadline)
            fail(`not all events arrived: counts ${JSON.stringify(counts)} of ${total}`);
        await sleep(20);
    }
    const want = Array.from({ length: total }, (_, i) => i + 1);
    for (const c of conns) {
        const got = eventsOf(c, 'SystemAnnouncement').map((e) => e.args[0].seq);
        checkEqual(got, want, `order of the events at ${c.name}`);
        checkEqual(c.closed, null, `${c.name} closed`);
        checkEqual(c.reconnecting, 0, `${c.name} reconnects`);
    }
    log(`fast: ${n} clients got all ${total} events in order; first to last arrival ${Date.now() - first} ms`);
    await stopAll(conns);
});

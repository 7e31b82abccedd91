// The well-behaved neighbour of the issue #4 gateway tests (t_95..t_99):
// an official client that keeps receiving events while other clients
// misbehave on the same gateway. It publishes one event at a time
// (conduit-pub, acknowledged) to its own group and waits for it to
// arrive, until STOP_FILE appears; then it checks that every event
// arrived, once, in order, and that its connection was never closed or
// re-established.
//
//   node issue4gw_neighbour.mjs BASE READY_FILE STOP_FILE
//
// Environment (besides lib.mjs's): NEIGHBOUR_KEEPALIVE_MS (the client's
// ping interval; small when the gateway's client timeout is),
// NEIGHBOUR_MAX_WAIT_MS (how long one event may take, default 5000) and
// NEIGHBOUR_PUB_OPTS (more conduit-pub options, a JSON array: CurveZMQ).
//
// SPDX-License-Identifier: MIT
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { KEY_B, check, checkEqual, connect, eventsOf, fail, log, run, sleep, stopAll } from './lib.mjs';

const [base, readyFile, stopFile] = process.argv.slice(2);
if (!stopFile) fail('usage: issue4gw_neighbour.mjs BASE READY_FILE STOP_FILE');
const keepAliveMs = Number(process.env.NEIGHBOUR_KEEPALIVE_MS ?? 0) || undefined;
const maxWaitMs = Number(process.env.NEIGHBOUR_MAX_WAIT_MS ?? 5000);
const pubOpts = JSON.parse(process.env.NEIGHBOUR_PUB_OPTS ?? '[]');

function publish(seq) {
    return new Promise((resolve) => {
        execFile(process.env.PUB, ['--broker', process.env.BROKER_ACK, ...pubOpts, 'event',
            '--hub', 'SystemNotificationHub', '--group', 'vkey-2',
            '--target', 'SystemAnnouncement', '--data', JSON.stringify({ neighbour: seq })],
        { timeout: 10000 }, (err, _out, stderr) => {
            if (err) fail(`conduit-pub of neighbour event ${seq}: ${err.message} ${stderr}`);
            resolve();
        });
    });
}

run(async () => {
    const c = await connect(base, '/hubs/notifications', KEY_B, {
        targets: ['SystemAnnouncement'], name: 'neighbour', keepAliveMs,
    });
    writeFileSync(readyFile, 'ready\n');
    let seq = 0;
    const started = Date.now();
    let worst = 0;
    // bounded: lib.mjs's run() fails the script after 80 s anyway
    while (!existsSync(stopFile) && Date.now() - started < 75000) {
        seq++;
        const t0 = Date.now();
        await publish(seq);
        const deadline = t0 + maxWaitMs;
        while (eventsOf(c, 'SystemAnnouncement').length < seq) {
            if (Date.now() > deadline)
                fail(`neighbour event ${seq} did not arrive within ${maxWaitMs} ms`);
            if (c.closed) fail(`the neighbour's connection closed: ${c.closed}`);
            await sleep(5);
        }
        worst = Math.max(worst, Date.now() - t0);
        await sleep(50);
    }
    check(existsSync(stopFile), 'the test did not end the neighbour within 75 s');
    const got = eventsOf(c, 'SystemAnnouncement').map((e) => e.args[0].neighbour);
    checkEqual(got, Array.from({ length: seq }, (_, i) => i + 1), 'neighbour events in order');
    checkEqual(c.closed, null, 'neighbour connection closed');
    checkEqual(c.reconnecting, 0, 'neighbour reconnects');
    log(`neighbour: ${seq} events, all in order, slowest publish->receive ${worst} ms`);
    await stopAll([c]);
});

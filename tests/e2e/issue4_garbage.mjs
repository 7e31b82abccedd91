// Issue #4 (t_90): garbage on the broker's three ZeroMQ endpoints does
// not stop good traffic. A client of key 1 on TaskHub (gateway A) is
// connected; issue4_garbage.py then sends hostile input to ingress,
// ingress_ack and gateway_link, each followed by a good message; the two
// good events (sources "sub-after-garbage" and "ack-after-garbage") must
// reach the client, and nothing that came with the garbage may. The
// script's counts go to $ISSUE4_OUT for the shell, which compares them
// with the broker's counters.
// SPDX-License-Identifier: MIT
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GW1, KEY_A, check, checkEqual, connect, eventsOf, fail, log, received, run, stopAll, waitFor }
    from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const env = process.env;

run(async () => {
    check(env.ISSUE4_OUT && env.BROKER_LINK && env.ISSUE4_MAX_BYTES, 'run through t_90_zmq_garbage.sh');
    const c = await connect(GW1, '/hubs/tasks', KEY_A, { targets: ['TaskProgress'], name: 'key1 tasks/gwA' });
    const r = spawnSync(env.PY, [join(here, 'issue4_garbage.py'), env.BROKER_INGRESS, env.BROKER_ACK,
        env.BROKER_LINK, env.ISSUE4_MAX_BYTES], { encoding: 'utf8', timeout: 60000 });
    if (r.error || r.status !== 0)
        fail(`issue4_garbage.py failed (${r.status}): ${r.error ? r.error.message : r.stderr.trim()}`);
    writeFileSync(env.ISSUE4_OUT, r.stdout);
    log(`garbage sent: ${r.stdout.trim()}`);
    const sources = () => eventsOf(c, 'TaskProgress').map((e) => e.args[0] && e.args[0].source);
    await waitFor(() => sources().includes('sub-after-garbage') && sources().includes('ack-after-garbage'), 5000,
        () => `both good events after the garbage; ${received(c)}`);
    // what rode along with the garbage (multi-frame, wrong shapes) is dropped
    await new Promise((res) => setTimeout(res, 300));
    checkEqual(sources().sort(), ['ack-after-garbage', 'sub-after-garbage'], 'events delivered');
    checkEqual(c.closed, null, 'the client connection');
    await stopAll([c]);
});

// An official client that the test stops with SIGSTOP (t_99): connected,
// pinging every 300 ms, it writes READY_FILE and waits. While it is
// stopped the gateway must time it out; once continued it must see the
// Close (allowReconnect) and reconnect by itself, which ends the script.
//
//   node issue4gw_stopped.mjs BASE READY_FILE
//
// SPDX-License-Identifier: MIT
import { writeFileSync } from 'node:fs';
import { KEY_A, check, connect, log, run, stopAll, waitFor } from './lib.mjs';

const [base, readyFile] = process.argv.slice(2);

run(async () => {
    const c = await connect(base, '/hubs/notifications', KEY_A, {
        name: 'stopped', keepAliveMs: 300, logLevel: 6,
    });
    let closeError = null;
    c.conn.onreconnecting((e) => { closeError = e; });
    writeFileSync(readyFile, 'ready\n');
    // the SIGSTOP comes now; after SIGCONT the Close is waiting
    await waitFor(() => c.reconnected > 0, 60000, 'a reconnect after SIGCONT');
    check(String(closeError?.message).includes('Client timeout'),
        `reason of the reconnect: ${closeError?.message}`);
    log(`closed while stopped ("${closeError.message}"), reconnected`);
    await stopAll([c]);
});

// Fan-out across gateways, exactly once and in order (t_60).
// SPDX-License-Identifier: MIT
import {
    GW1, GW2, KEY_A, checkEqual, connect, eventsOf, log, pubOk, run, sleep,
    stopAll, waitFor,
} from './lib.mjs';

const N = 200;

run(async () => {
    const targets = ['SpendUpdate'];
    const a = await connect(GW1, '/hubs/spend-notifications', KEY_A, { targets, name: 'gateway A' });
    const b = await connect(GW2, '/hubs/spend-notifications', KEY_A, { targets, name: 'gateway B' });

    pubOk(['event', '--hub', 'SpendNotificationHub', '--group', 'vkey-1', '--target', 'SpendUpdate',
        '--data', '{"one":true}']);
    for (const c of [a, b])
        await waitFor(() => eventsOf(c, 'SpendUpdate').length >= 1, 5000, `the event at ${c.name}`);
    await sleep(700);
    for (const c of [a, b])
        checkEqual(eventsOf(c, 'SpendUpdate').length, 1, `copies of one event at ${c.name}`);
    log('one event: once on each gateway');

    const lines = [];
    for (let i = 0; i < N; i++)
        lines.push(JSON.stringify({
            type: 'event', hub: 'SpendNotificationHub', group: 'vkey-1', target: 'SpendUpdate',
            data: { seq: i },
        }));
    pubOk(['ndjson'], lines.join('\n') + '\n');
    for (const c of [a, b])
        await waitFor(() => eventsOf(c, 'SpendUpdate').length >= N + 1, 15000,
            `${N} events at ${c.name} (has ${eventsOf(c, 'SpendUpdate').length - 1})`);
    await sleep(500);
    for (const c of [a, b]) {
        const seqs = eventsOf(c, 'SpendUpdate').slice(1).map((e) => e.args[0] && e.args[0].seq);
        checkEqual(seqs, [...Array(N).keys()], `sequence of events at ${c.name}`);
    }
    await stopAll([a, b]);
});

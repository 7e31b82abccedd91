// Issue #3 (t_71): UnusualSpending with small windows (the broker runs
// with spend.unusual_short_ms=2000, unusual_long_ms=20000,
// unusual_min_samples=3, unusual_multiple=3). The rate history lives in
// buckets of short/10 = 200 ms; the baseline is what is older than the
// short window, measured over the span the key was observed. Key 1 spends
// 1 three times, then (3.6 s later, when those three are baseline) 100:
// recent rate ~50/s against a baseline ~3/s -> one UnusualSpending, before
// the SpendUpdate holding the spike; a second spike is inside the
// cooldown. Key 2 spends 1 every 400 ms throughout: never unusual.
// SPDX-License-Identifier: MIT
import {
    GW1, GW2, KEY_A, KEY_B, checkEqual, connect, eventsOf, log, pubOk, received,
    run, sleep, stopAll, waitFor,
} from './lib.mjs';

const SPEND = '/hubs/spend-notifications';
const TARGETS = ['SpendUpdate', 'BudgetAlert', 'UnusualSpending'];

run(async () => {
    const t1 = await connect(GW1, SPEND, KEY_A, { targets: TARGETS, name: 'tenant1/gwA' });
    const t2 = await connect(GW2, SPEND, KEY_B, { targets: TARGETS, name: 'tenant2/gwB' });
    const totals = { 1: 0, 2: 0 };
    const spend = (key, amount) => {
        totals[key] += amount;
        pubOk(['spend', '--key', String(key), '--amount', String(amount), '--total', String(totals[key]),
            '--provider', 'openai', '--model', 'gpt-4o']);
    };
    const start = Date.now();
    for (let i = 0; i < 14; i++) {
        const wait = start + i * 400 - Date.now();
        if (wait > 0) await sleep(wait);
        spend(2, 1);
        if (i < 3) spend(1, 1);
        if (i === 9 || i === 11) spend(1, 100); // at ~3.6 s and ~4.4 s
    }
    await waitFor(() => eventsOf(t1, 'UnusualSpending').length >= 1, 3000,
        () => `UnusualSpending for key 1; ${received(t1)}`);
    await sleep(1500);
    const un = eventsOf(t1, 'UnusualSpending').map((e) => e.args[0]);
    checkEqual(un.length, 1, 'UnusualSpending alerts of key 1 (the second spike is in the cooldown)');
    const u = un[0];
    checkEqual([u.virtualKeyId, u.activityType, u.recentSpend, u.baselineSpend, u.windowMs, u.provider],
        [1, 'spend_spike', 100, 3, 2000, 'openai'],
        'UnusualSpending [key, activityType, recentSpend, baselineSpend, windowMs, provider]');
    checkEqual(u.currentRate > 3 * u.normalRate, true,
        `currentRate ${u.currentRate} > 3 x normalRate ${u.normalRate}`);
    checkEqual(u.deviationPercentage > 200, true, `deviationPercentage ${u.deviationPercentage}`);
    // the alert precedes the SpendUpdate that carries the spike
    const seq = t1.events;
    const at = seq.findIndex((e) => e.target === 'UnusualSpending');
    checkEqual(seq[at + 1] && seq[at + 1].target, 'SpendUpdate', 'event after UnusualSpending');
    checkEqual(seq[at + 1].args[0].totalSpend, 103, 'totalSpend of the update after the alert');
    checkEqual(eventsOf(t2, 'UnusualSpending').length, 0, 'UnusualSpending for the steady key 2');
    checkEqual(eventsOf(t2, 'SpendUpdate').reduce((n, e) => n + e.args[0].requestCount, 0), 14,
        'spends of key 2 in its SpendUpdates');
    log('unusual spending ok');
    await stopAll([t1, t2]);
});

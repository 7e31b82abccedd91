// Issue #3 (t_70): budget alerts and SpendUpdate batching through the real
// processes. (a) key 1 with budget 100 climbs over 80/90/100, falls below
// the re-arm level and climbs again: the exact BudgetAlert sequence, and
// HighSpendAlert on the admin hub with the master key. (b) five spends of
// key 2 inside one window become one SpendUpdate with their sum.
// SPDX-License-Identifier: MIT
import {
    GW1, GW2, KEY_A, KEY_B, MASTER_KEY, checkEqual, connect, eventsOf, log,
    pubOk, received, run, sleep, stopAll, waitFor,
} from './lib.mjs';

const SPEND = '/hubs/spend-notifications';
const ADMIN = '/hubs/admin-notifications';
const SPEND_EVENTS = ['SpendUpdate', 'BudgetAlert', 'UnusualSpending'];

run(async () => {
    const t1 = await connect(GW1, SPEND, KEY_A, { targets: SPEND_EVENTS, name: 'tenant1/gwA' });
    const t2 = await connect(GW2, SPEND, KEY_B, { targets: SPEND_EVENTS, name: 'tenant2/gwB' });
    const adm = await connect(GW2, ADMIN, MASTER_KEY, { targets: ['HighSpendAlert'], name: 'master/gwB' });
    // in `admin` and, after the call, in `admin-vkey-1`: still one copy each
    const adm1 = await connect(GW1, ADMIN, MASTER_KEY, { targets: ['HighSpendAlert'], name: 'master+vkey1/gwA' });
    await adm1.conn.invoke('SubscribeToVirtualKey', 1);

    // (a) the climb, the fall below 50 % and the second climb
    const totals = [50, 80, 85, 90, 100, 40, 82, 95, 101];
    totals.forEach((total, i) => pubOk(['spend', '--key', '1', '--amount', '1', '--total', String(total),
        '--budget', '100', '--provider', 'openai', '--model', 'gpt-4o', '--request-id', `r${i}`]));
    await waitFor(() => eventsOf(t1, 'BudgetAlert').length >= 6, 5000,
        () => `6 BudgetAlerts; ${received(t1)}`);
    await waitFor(() => eventsOf(adm, 'HighSpendAlert').length >= 2 &&
        eventsOf(adm1, 'HighSpendAlert').length >= 2, 5000,
    () => `2 HighSpendAlerts on each admin connection; ${received(adm)}; ${received(adm1)}`);
    await sleep(700); // anything extra would have arrived by now
    const alerts = eventsOf(t1, 'BudgetAlert').map((e) => e.args[0]);
    checkEqual(alerts.map((a) => [a.threshold, a.severity, a.alertType, a.percentage, a.requestId]), [
        [80, 'info', 'budget_80_percent', 80, 'r1'],
        [90, 'warning', 'budget_90_percent', 90, 'r3'],
        [100, 'critical', 'budget_exceeded', 100, 'r4'],
        [80, 'info', 'budget_80_percent', 82, 'r6'],
        [90, 'warning', 'budget_90_percent', 95, 'r7'],
        [100, 'critical', 'budget_exceeded', 101, 'r8'],
    ], 'BudgetAlert sequence [threshold, severity, alertType, percentage, requestId]');
    for (const a of alerts) {
        checkEqual(a.virtualKeyId, 1, 'BudgetAlert virtualKeyId');
        checkEqual(a.budget, 100, 'BudgetAlert budget');
        checkEqual(a.remaining, Math.max(0, 100 - a.totalSpend), 'BudgetAlert remaining');
        checkEqual(typeof a.timestamp, 'string', 'BudgetAlert timestamp');
    }
    for (const c of [adm, adm1]) {
        const hs = eventsOf(c, 'HighSpendAlert').map((e) => e.args[0]);
        checkEqual(hs.map((h) => [h.virtualKeyId, h.percentage, h.severity, h.provider, h.model]), [
            [1, 100, 'critical', 'openai', 'gpt-4o'],
            [1, 101, 'critical', 'openai', 'gpt-4o'],
        ], `HighSpendAlerts at ${c.name}`);
    }
    checkEqual(eventsOf(t2).length, 0, 'events of key 1 at tenant 2');
    // every spend is in some SpendUpdate of key 1, and the last one is current
    const ups = eventsOf(t1, 'SpendUpdate').map((e) => e.args[0]);
    checkEqual(ups.every((u) => u.virtualKeyId === 1), true, 'SpendUpdates at tenant 1 are key 1\'s');
    await waitFor(() => eventsOf(t1, 'SpendUpdate').reduce((n, e) => n + e.args[0].requestCount, 0) === 9,
        3000, () => `SpendUpdates covering the 9 spends; ${received(t1)}`);
    checkEqual(eventsOf(t1, 'SpendUpdate').at(-1).args[0].totalSpend, 101, 'latest totalSpend');
    // an alert comes before the update that holds its spend
    const seq = t1.events.map((e) => e.target);
    const firstAlert = seq.indexOf('BudgetAlert');
    checkEqual(seq[firstAlert + 1], 'SpendUpdate', 'event after the first BudgetAlert');
    log('(a) budget alert sequence ok');

    // (b) batching: 5 spends of key 2 in one window -> one SpendUpdate
    const amounts = [0.25, 0.5, 1, 1.25, 2];
    let total = 0;
    const lines = amounts.map((amount, i) => {
        total += amount;
        return JSON.stringify({ type: 'spend', virtualKeyId: 2, amount, totalSpend: total, requestId: `b${i}` });
    });
    const t0 = Date.now();
    pubOk(['ndjson'], lines.join('\n') + '\n');
    await waitFor(() => eventsOf(t2, 'SpendUpdate').length >= 1, 5000,
        () => `the batched SpendUpdate; ${received(t2)}`);
    const after = Date.now() - t0;
    await sleep(1500); // a second update would come within one more window
    const batch = eventsOf(t2, 'SpendUpdate').map((e) => e.args[0]);
    checkEqual(batch.length, 1, 'SpendUpdates for the 5 spends of key 2');
    checkEqual([batch[0].virtualKeyId, batch[0].newSpend, batch[0].requestCount, batch[0].totalSpend,
        batch[0].requestId, batch[0].budget],
    [2, 5, 5, 5, 'b4', null], 'the batched SpendUpdate [key, newSpend, requestCount, total, requestId, budget]');
    checkEqual(after >= 500, true, `the batch waited for its window (${after} ms)`);
    checkEqual(eventsOf(t2, 'BudgetAlert').length, 0, 'BudgetAlerts of key 2 (no budget)');
    checkEqual(eventsOf(t1, 'SpendUpdate').every((e) => e.args[0].virtualKeyId === 1), true,
        'tenant 1 got no update of key 2');
    log('(b) batching ok');
    await stopAll([t1, t2, adm, adm1]);
});

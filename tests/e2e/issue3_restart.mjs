// Issue #3 (t_80): what the broker acknowledged survives kill -9. Phase 1
// (broker A): task T-kill of key 1 started and at 40 %, key 1 over 80 %
// of its budget (BudgetAlert 80 seen), key 2 disabled; then this script
// writes $ISSUE3_SYNC/phase1 and waits for $ISSUE3_SYNC/restarted while
// the shell kills the broker with SIGKILL and starts broker B on the same
// store. Phase 2: the gateways replay their connections by themselves;
// the owner subscribes and gets the latest state (40 %); another tenant
// (key 4, added now) is denied; spend at 85 % sends no second 80 % alert
// (90 % still fires); key 2 is still refused with 401.
// SPDX-License-Identifier: MIT
import { existsSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
    GW1, GW2, KEY_A, KEY_B, MASTER_KEY, check, checkEqual, connect, eventsOf, expectReject,
    expectRefused, fail, log, pub, pubOk, received, run, sleep, stopAll, waitFor,
} from './lib.mjs';

const SPEND = '/hubs/spend-notifications';
const SPEND_T = ['SpendUpdate', 'BudgetAlert'];
const TASK_T = ['TaskStarted', 'TaskProgress'];
const SYNC = process.env.ISSUE3_SYNC;
const KEY_4 = process.env.ISSUE3_KEY_4;

function negotiate(base, path, key) {
    const r = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', '-X', 'POST',
        '-H', `Authorization: Bearer ${key}`, `${base}${path}/negotiate?negotiateVersion=1`], { encoding: 'utf8' });
    return r.stdout;
}

function stats() {
    const r = pub(['--timeout', '1000', 'stats']);
    if (r.status !== 0) return null;
    try { return JSON.parse(r.stdout); } catch { return null; }
}

run(async () => {
    check(SYNC && KEY_4, 'ISSUE3_SYNC and ISSUE3_KEY_4 must be set (run t_80_kill9_restart.sh)');
    // ---- phase 1 -------------------------------------------------------
    const spendA = await connect(GW1, SPEND, KEY_A, { targets: SPEND_T, name: 'key1 spend/gwA (lives on)' });
    const admin = await connect(GW2, '/hubs/admin-notifications', MASTER_KEY,
        { targets: ['HighSpendAlert', 'VirtualKeyUpdated'], name: 'master/gwB (lives on)' });
    const k2 = await connect(GW2, SPEND, KEY_B, { targets: SPEND_T, name: 'key2/gwB' });

    pubOk(['task', '--id', 'T-kill', '--type', 'video', '--key', '1', '--state', 'started']);
    pubOk(['task', '--id', 'T-kill', '--type', 'video', '--state', 'progress', '--percent', '40', '--message', 'forty']);
    pubOk(['spend', '--key', '1', '--amount', '81', '--total', '81', '--budget', '100']);
    await waitFor(() => eventsOf(spendA, 'BudgetAlert').length === 1, 5000,
        () => `the 80 % alert before the kill; ${received(spendA)}`);
    checkEqual(eventsOf(spendA, 'BudgetAlert')[0].args[0].threshold, 80, 'threshold before the kill');
    pubOk(['key', 'disable', '--id', '2']);
    await waitFor(() => k2.closed !== null, 2000, 'key 2 closed by the disable');
    const before = stats();
    check(before && before.connections === 2, `2 live connections before the kill: ${JSON.stringify(before)}`);
    log('phase 1 done: task acked, 80 % alert sent, key 2 disabled');

    writeFileSync(join(SYNC, 'phase1'), '');
    const deadline = Date.now() + 40000;
    while (!existsSync(join(SYNC, 'restarted'))) {
        if (Date.now() > deadline) fail('the broker was not restarted within 40 s');
        await sleep(50);
    }
    log('phase 2: broker restarted');

    // ---- phase 2 -------------------------------------------------------
    // the gateways must replay the two live connections to the new broker
    let now = null;
    const t0 = Date.now();
    while (Date.now() - t0 < 15000) {
        now = stats();
        if (now && now.connections >= 2) break;
        await sleep(200);
    }
    if (!now || now.connections < 2)
        fail('the gateways did not replay their connections to the restarted broker within 15 s '
            + `(broker stats: ${JSON.stringify(now && { gateways: now.gateways, connections: now.connections,
                conns_restored: now.conns_restored })}) - gateway link replay (helper b)`);
    log(`replayed after ${Date.now() - t0} ms: ${now.gateways} gateways, ${now.connections} connections`);
    checkEqual(now.incarnation !== before.incarnation, true, 'a new broker incarnation');

    // the owner gets the latest state on subscribe, on both hubs
    const owner = await connect(GW2, '/hubs/tasks', KEY_A, { targets: TASK_T, name: 'owner tasks/gwB' });
    await owner.conn.invoke('SubscribeToTask', 'T-kill');
    await waitFor(() => eventsOf(owner, 'TaskProgress').length === 1, 3000,
        () => `the latest state after the restart; ${received(owner)}`);
    const st = eventsOf(owner, 'TaskProgress')[0].args;
    checkEqual([st[0], st[1], st[2]], ['T-kill', 40, 'forty'], 'TaskProgress(taskId, percent, message) replayed');
    checkEqual(eventsOf(owner, 'TaskStarted').length, 0, 'only the latest event is sent');
    const video = await connect(GW1, '/hubs/video-generation', KEY_A, { targets: ['VideoProgress'], name: 'owner video/gwA' });
    await video.conn.invoke('SubscribeToVideoGeneration', 'T-kill');
    await waitFor(() => eventsOf(video, 'VideoProgress').length === 1, 3000,
        () => `the latest video state; ${received(video)}`);
    checkEqual(eventsOf(video, 'VideoProgress')[0].args[0].progress, 40, 'VideoProgress progress');

    // another tenant still cannot
    pubOk(['key', 'add', '--id', '4', '--name', 'e2e-other', '--secret', KEY_4]);
    const other = await connect(GW1, '/hubs/tasks', KEY_4, { targets: TASK_T, name: 'key4 tasks/gwA' });
    const why = await expectReject(other.conn.invoke('SubscribeToTask', 'T-kill'), 5000, 'key 4 subscribing to T-kill');
    check(/HubException/.test(why), `key 4 denied with a hub error: ${why}`);
    await sleep(300);
    checkEqual(eventsOf(other).length, 0, 'events at key 4');

    // the disabled key stays disabled (the file still lists it enabled)
    await expectRefused(GW1, SPEND, KEY_B, 'key 2 after the restart');
    checkEqual(negotiate(GW2, SPEND, KEY_B), '401', 'curl negotiate of key 2 after the restart');

    // the 80 % alert is not sent again; 90 % still is
    const spendA2 = await connect(GW2, SPEND, KEY_A, { targets: SPEND_T, name: 'key1 spend/gwB (new)' });
    pubOk(['spend', '--key', '1', '--amount', '4', '--total', '85', '--budget', '100']);
    await waitFor(() => eventsOf(spendA2, 'SpendUpdate').length === 1, 5000,
        () => `the SpendUpdate at 85 %; ${received(spendA2)}`);
    checkEqual(eventsOf(spendA2, 'SpendUpdate')[0].args[0].totalSpend, 85, 'totalSpend at 85 %');
    checkEqual(eventsOf(spendA2, 'BudgetAlert').length, 0, 'BudgetAlerts at 85 % after the restart');
    // the connection from before the kill was replayed: it hears it too
    await waitFor(() => eventsOf(spendA, 'SpendUpdate').some((e) => e.args[0].totalSpend === 85), 3000,
        () => `the replayed connection to get the update at 85 %; ${received(spendA)}`);
    pubOk(['spend', '--key', '1', '--amount', '6', '--total', '91', '--budget', '100']);
    await waitFor(() => eventsOf(spendA2, 'BudgetAlert').length === 1, 5000,
        () => `the 90 % alert; ${received(spendA2)}`);
    checkEqual(eventsOf(spendA2, 'BudgetAlert')[0].args[0].threshold, 90, 'threshold after the restart');
    await waitFor(() => eventsOf(spendA, 'BudgetAlert').length === 2, 3000,
        () => `the 90 % alert at the replayed connection; ${received(spendA)}`);
    checkEqual(eventsOf(spendA, 'BudgetAlert').map((e) => e.args[0].threshold), [80, 90],
        'all BudgetAlerts seen by the connection that lived through the kill');
    checkEqual(eventsOf(admin, 'HighSpendAlert').length, 0, 'HighSpendAlerts');
    checkEqual(spendA.reconnecting + admin.reconnecting, 0, 'client reconnects caused by the broker restart');
    log('phase 2 done: state survived kill -9');
    await stopAll([spendA, spendA2, admin, owner, video, other]);
});

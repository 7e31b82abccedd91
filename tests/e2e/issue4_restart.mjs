// Issue #4 (t_91): a broker killed with SIGKILL while clients are
// connected through two gateways. Phase 1: three clients, two of them
// with groups joined by explicit invocations (SubscribeToTaskType), get
// events; the script writes $ISSUE4_SYNC/phase1. The shell then freezes
// the broker (SIGSTOP, $ISSUE4_SYNC/frozen): the link looks up but nobody
// answers, so an invocation must fail with an error Completion after
// gateway.invoke_timeout_ms (1500 ms here), not hang ($ISSUE4_SYNC/
// frozen-done). Then the broker is killed ($ISSUE4_SYNC/down): an
// invocation must fail within the same bound (the gateway may know at
// once that the link is down); the script writes $ISSUE4_SYNC/invoked.
// Phase 2 (after
// $ISSUE4_SYNC/restarted): the gateways replay connections and groups,
// so events to the auto-joined and to the explicitly joined groups reach
// the same clients, none of which saw onreconnecting or a close.
// SPDX-License-Identifier: MIT
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
    GW1, GW2, KEY_A, KEY_B, check, checkEqual, connect, eventsOf, fail, log, pub, pubOk, received, run, sleep,
    stopAll, waitFor,
} from './lib.mjs';

const SYNC = process.env.ISSUE4_SYNC;
const TASK_T = ['TaskStarted', 'TaskProgress'];

function stats() {
    const r = pub(['--timeout', '1000', 'stats']);
    if (r.status !== 0) return null;
    try { return JSON.parse(r.stdout); } catch { return null; }
}

async function waitSync(name, ms) {
    const deadline = Date.now() + ms;
    while (!existsSync(join(SYNC, name))) {
        if (Date.now() > deadline) fail(`no ${name} from the shell within ${ms} ms`);
        await sleep(20);
    }
}

function tagged(c, target, tag) {
    return eventsOf(c, target).filter((e) => e.args[0] && e.args[0].tag === tag);
}

function publishAll(tag) {
    pubOk(['event', '--hub', 'TaskHub', '--group', 'vkey-1-video', '--target', 'TaskProgress',
        '--data', JSON.stringify({ tag, to: 'vkey-1-video' })]);
    pubOk(['event', '--hub', 'TaskHub', '--group', 'vkey-2-image', '--target', 'TaskProgress',
        '--data', JSON.stringify({ tag, to: 'vkey-2-image' })]);
    pubOk(['event', '--hub', 'SpendNotificationHub', '--group', 'vkey-1', '--target', 'SpendUpdate',
        '--data', JSON.stringify({ tag, to: 'vkey-1' })]);
}

async function expectAll(clients, tag) {
    const [c1, c2, c3] = clients;
    await waitFor(() => tagged(c1, 'TaskProgress', tag).length === 1 && tagged(c2, 'TaskProgress', tag).length === 1
        && tagged(c3, 'SpendUpdate', tag).length === 1, 5000,
    () => `'${tag}' events at all three clients; ${received(c1)}; ${received(c2)}; ${received(c3)}`);
    checkEqual(tagged(c1, 'TaskProgress', tag)[0].args[0].to, 'vkey-1-video', 'c1 got its group');
    checkEqual(tagged(c2, 'TaskProgress', tag)[0].args[0].to, 'vkey-2-image', 'c2 got its group');
}

// Invokes SubscribeToTaskType(type), which must fail (never hang, never
// succeed); returns the error and the time it took.
async function failedInvoke(c, type, what) {
    const t0 = Date.now();
    let why = null;
    try {
        const v = await Promise.race([c.conn.invoke('SubscribeToTaskType', type), sleep(10000).then(() => 'HANG')]);
        fail(`an invocation with the broker ${what} returned ${JSON.stringify(v)} after ${Date.now() - t0} ms`);
    } catch (e) {
        why = String(e && e.message !== undefined ? e.message : e);
    }
    const took = Date.now() - t0;
    log(`invocation with the broker ${what} failed after ${took} ms: ${why}`);
    check(/error|HubException|unavailable/i.test(why), `an error Completion with the broker ${what}: ${why}`);
    checkEqual(c.closed, null, `${c.name} after the failed invocation (broker ${what})`);
    return { took, why };
}

run(async () => {
    check(SYNC, 'ISSUE4_SYNC must be set (run t_91_broker_restart.sh)');
    // ---- phase 1 -------------------------------------------------------
    const c1 = await connect(GW1, '/hubs/tasks', KEY_A, { targets: TASK_T, name: 'key1 tasks/gwA' });
    const c2 = await connect(GW2, '/hubs/tasks', KEY_B, { targets: TASK_T, name: 'key2 tasks/gwB' });
    const c3 = await connect(GW2, '/hubs/spend-notifications', KEY_A, { targets: ['SpendUpdate'], name: 'key1 spend/gwB' });
    const clients = [c1, c2, c3];
    await c1.conn.invoke('SubscribeToTaskType', 'video');
    await c2.conn.invoke('SubscribeToTaskType', 'image');
    publishAll('before');
    await expectAll(clients, 'before');
    const before = stats();
    check(before && before.connections === 3 && before.memberships === 5,
        `3 connections and 5 memberships before the kill: ${JSON.stringify(before && { c: before.connections, m: before.memberships })}`);
    log('phase 1 done: explicit groups joined, events delivered');
    writeFileSync(join(SYNC, 'phase1'), '');

    // ---- the broker is frozen, then down -------------------------------
    await waitSync('frozen', 20000);
    // (already a member: the late answer after SIGCONT changes nothing)
    let r = await failedInvoke(c1, 'video', 'frozen');
    check(r.took >= 1200 && r.took <= 4000,
        `with the broker frozen the error Completion came after ${r.took} ms, expected gateway.invoke_timeout_ms (1500)`);
    writeFileSync(join(SYNC, 'frozen-done'), '');
    await waitSync('down', 20000);
    r = await failedInvoke(c1, 'other', 'down');
    check(r.took <= 4000, `with the broker down the error Completion came after ${r.took} ms (invoke_timeout_ms 1500)`);
    writeFileSync(join(SYNC, 'invoked'), '');

    // ---- phase 2 -------------------------------------------------------
    await waitSync('restarted', 30000);
    let now = null;
    const t1 = Date.now();
    while (Date.now() - t1 < 15000) {
        now = stats();
        if (now && now.connections === 3 && now.memberships === 5) break;
        await sleep(100);
    }
    if (!now || now.connections !== 3 || now.memberships !== 5)
        fail(`the gateways did not replay 3 connections with 5 memberships within 15 s: ${JSON.stringify(now && {
            gateways: now.gateways, connections: now.connections, memberships: now.memberships,
            conns_restored: now.conns_restored })}`);
    check(now.incarnation !== before.incarnation, 'a new broker incarnation');
    log(`replayed after ${Date.now() - t1} ms: ${now.gateways} gateways, ${now.connections} connections, `
        + `${now.memberships} memberships`);
    publishAll('after');
    await expectAll(clients, 'after');
    for (const c of clients) {
        checkEqual(c.reconnecting, 0, `onreconnecting calls at ${c.name}`);
        checkEqual(c.closed, null, `close of ${c.name}`);
    }
    // and invocations work again
    await c1.conn.invoke('SubscribeToTaskType', 'other');
    log('phase 2 done: same connections, same groups');
    await stopAll(clients);
});

// Issue #4 (t_92): two gateways share one port (SO_REUSEPORT); one is
// killed with SIGKILL. Its clients (official client, automatic reconnect)
// reconnect through the same address to the survivor and get their
// auto-joined groups back; explicit subscriptions are re-invoked by the
// client in onreconnected (the pattern every application should follow:
// a new connection starts with the hub's join_on_connect groups only).
// The broker forgets the dead gateway after broker.gateway_timeout_ms and
// routes nothing more to it.
//
// The clients negotiate (the client's default): the kernel may send the
// WebSocket upgrade to the other gateway than the one that answered
// negotiate, which must then verify the connection token signed with the
// broker's secret (gateway/tokens.h). First, 20 plain connections with
// both gateways alive must all open; a gateway that knew only its own
// tokens failed about a third of them with 404.
//
// Sync with t_92_gateway_crash.sh: this script writes $ISSUE4_SYNC/ready
// (clients on both gateways), the shell kills gwB and writes
// $ISSUE4_SYNC/killed.
// SPDX-License-Identifier: MIT
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
    KEY_A, check, checkEqual, eventsOf, fail, log, pub, pubOk, run, signalR, sleep, stopAll, waitFor, within,
} from './lib.mjs';

const SYNC = process.env.ISSUE4_SYNC;
const GW = process.env.GW_SHARED;
const MAX_CLIENTS = 40;

function stats() {
    const r = pub(['--timeout', '1000', 'stats']);
    if (r.status !== 0) fail(`conduit-pub stats: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout);
}

function perGateway(s) {
    const m = {};
    for (const g of s.gateway_list) m[g.name] = g;
    return m;
}

// A TaskHub client of key 1 (official client, automatic reconnect,
// negotiate then WebSockets) that subscribes to task type 'video', and
// again after every reconnection.
async function client(i) {
    const conn = new signalR.HubConnectionBuilder()
        .withUrl(GW + '/hubs/tasks', {
            accessTokenFactory: () => KEY_A,
            transport: signalR.HttpTransportType.WebSockets,
        })
        .withAutomaticReconnect()
        .configureLogging(signalR.LogLevel.Error)
        .build();
    const c = { conn, name: `client${i}`, events: [], messages: [], closed: null, reconnecting: 0, reconnected: 0 };
    conn.on('TaskProgress', (...args) => { c.events.push({ target: 'TaskProgress', args, at: Date.now() }); });
    conn.onclose((err) => { c.closed = err ?? 'closed'; });
    conn.onreconnecting(() => { c.reconnecting++; });
    conn.onreconnected(() => { c.reconnected++; });
    await within(conn.start(), 10000, `start of ${c.name}`);
    c.resubscribed = 0;
    c.resubscribeError = null;
    c.conn.onreconnected(async () => {
        try {
            await c.conn.invoke('SubscribeToTaskType', 'video');
            c.resubscribed++;
        } catch (e) {
            c.resubscribeError = String(e);
        }
    });
    await c.conn.invoke('SubscribeToTaskType', 'video');
    return c;
}

function received(c) {
    return `${c.name} received ${JSON.stringify(c.events.map((e) => e.args[0]))}`;
}

function tagged(c, tag) {
    return eventsOf(c, 'TaskProgress').filter((e) => e.args[0] && e.args[0].tag === tag);
}

async function expectAll(clients, tag, group) {
    pubOk(['event', '--hub', 'TaskHub', '--group', group, '--target', 'TaskProgress', '--data', JSON.stringify({ tag })]);
    await waitFor(() => clients.every((c) => tagged(c, tag).length === 1), 5000,
        () => `'${tag}' (group ${group}) at every client; missing at: ${clients.filter((c) => tagged(c, tag).length !== 1)
            .map((c) => received(c)).join('; ')}`);
}

// Opens n negotiate-based connections one after another (each its own
// negotiate and upgrade, so the kernel picks a listener for each) and
// returns how many failed, with the first errors.
async function negotiatedBurst(n) {
    const errors = [];
    const conns = [];
    for (let i = 0; i < n; i++) {
        const conn = new signalR.HubConnectionBuilder()
            .withUrl(GW + '/hubs/tasks', {
                accessTokenFactory: () => KEY_A,
                transport: signalR.HttpTransportType.WebSockets,
            })
            .configureLogging(signalR.LogLevel.None)
            .build();
        try {
            await within(conn.start(), 10000, `start of burst connection ${i}`);
            // a round trip: the connection is registered at the broker
            await within(conn.invoke('SubscribeToTaskType', 'burst'), 5000, `invoke on burst connection ${i}`);
            conns.push(conn);
        } catch (e) {
            errors.push(`#${i}: ${String(e).slice(0, 200)}`);
        }
    }
    await Promise.all(conns.map((c) => c.stop()));
    return errors;
}

run(async () => {
    check(SYNC && GW, 'run through t_92_gateway_crash.sh');
    // both gateways up: every negotiate-based connection opens, wherever
    // its upgrade lands
    const s0 = perGateway(stats());
    check(s0.gwA && s0.gwB, `both gateways linked before the burst: ${JSON.stringify(Object.keys(s0))}`);
    const burstErrors = await negotiatedBurst(20);
    checkEqual(burstErrors.length, 0, `failed negotiate-based connections of 20 (${burstErrors.join('; ')})`);
    await waitFor(() => stats().connections === 0, 5000, () => 'the burst connections to close at the broker');
    log('20 negotiate-based connections opened with both gateways alive');
    // clients until both gateways hold at least two (the kernel spreads
    // new connections over the listeners by a hash)
    const clients = [];
    let per = {};
    while (clients.length < MAX_CLIENTS) {
        clients.push(await client(clients.length));
        if (clients.length % 4 === 0) {
            per = perGateway(stats());
            if ((per.gwA?.connections ?? 0) >= 2 && (per.gwB?.connections ?? 0) >= 2) break;
        }
    }
    per = perGateway(stats());
    const onB = per.gwB?.connections ?? 0;
    check(onB >= 2 && (per.gwA?.connections ?? 0) >= 2,
        `${clients.length} clients did not spread over both gateways: ${JSON.stringify(per)}`);
    log(`${clients.length} clients: ${per.gwA.connections} on gwA, ${onB} on gwB`);
    await expectAll(clients, 'before', 'vkey-1-video');

    writeFileSync(join(SYNC, 'ready'), '');
    const deadline = Date.now() + 20000;
    while (!existsSync(join(SYNC, 'killed'))) {
        if (Date.now() > deadline) fail('gwB was not killed within 20 s');
        await sleep(20);
    }
    const tKill = Date.now();

    // gwB's clients reconnect (through the same address, to gwA) and
    // re-invoke their subscription; gwA's clients notice nothing
    await waitFor(() => clients.filter((c) => c.reconnected > 0).length === onB
        && clients.every((c) => c.conn.state === 'Connected'), 15000,
    () => `${onB} reconnections; got ${clients.filter((c) => c.reconnected > 0).length}, states `
        + `${clients.map((c) => c.conn.state).join(',')}`);
    log(`${onB} clients reconnected ${Date.now() - tKill} ms after the kill`);
    checkEqual(clients.filter((c) => c.reconnecting > 0).length, onB, 'clients that saw onreconnecting');
    checkEqual(clients.filter((c) => c.closed !== null).length, 0, 'clients closed');
    // the auto-joined group is back at once
    await expectAll(clients, 'auto-after', 'vkey-1');
    // the explicit one once onreconnected has re-invoked it
    await waitFor(() => clients.filter((c) => c.reconnected > 0).every((c) => c.resubscribed === 1), 5000,
        () => `re-subscriptions in onreconnected: ${clients.map((c) => c.resubscribeError ?? c.resubscribed).join(',')}`);
    await expectAll(clients, 'explicit-after', 'vkey-1-video');

    // the broker forgets gwB after gateway_timeout_ms (2000 here)
    let s = null;
    const t0 = Date.now();
    while (Date.now() - t0 < 10000) {
        s = stats();
        if (s.gateways === 1) break;
        await sleep(100);
    }
    checkEqual(s.gateway_list.map((g) => g.name), ['gwA'], 'gateways the broker knows after the timeout');
    checkEqual(s.gateways_timed_out, 1, 'gateways_timed_out');
    checkEqual(s.connections, clients.length, 'connections the broker holds (all on gwA)');
    checkEqual(s.memberships, 2 * clients.length, 'memberships (vkey-1 and vkey-1-video per client)');
    log(`the broker forgot gwB ${Date.now() - tKill} ms after the kill`);
    // and routes to gwA only: one send per event, no send errors
    const a0 = perGateway(s).gwA.events;
    await expectAll(clients, 'routed', 'vkey-1-video');
    const s2 = stats();
    checkEqual(perGateway(s2).gwA.events - a0, 1, 'EVENT frames sent to gwA for one event');
    checkEqual(s2.event_sends - s.event_sends, 1, 'EVENT frames sent in all for one event');
    checkEqual(s2.event_send_errors, s.event_send_errors, 'send errors after the timeout');
    await stopAll(clients);
});

// Helpers for the end-to-end node scripts: the official @microsoft/signalr
// client (from the repository's node_modules), bounded waits, and the two
// publishers (conduit-pub and tests/e2e/zmq_pub.py). The shell side
// (lib.sh) passes the endpoints in the environment: GW1, GW2, BROKER_ACK,
// BROKER_INGRESS, PUB, PY, KEY_A, KEY_B, KEY_ADMIN, MASTER_KEY.
//
// Every wait is bounded; a failed assertion prints "FAIL: <why>" and exits
// with status 1.
//
// SPDX-License-Identifier: MIT

import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

const require = createRequire(import.meta.url);
export const signalR = require('@microsoft/signalr');

const here = dirname(fileURLToPath(import.meta.url));
const env = process.env;

function need(name) {
    if (!env[name]) {
        console.error(`FAIL: environment variable ${name} is not set (run through tests/e2e/run.sh)`);
        process.exit(1);
    }
    return env[name];
}

export const GW1 = env.GW1;
export const GW2 = env.GW2;
export const KEY_A = need('KEY_A');
export const KEY_B = need('KEY_B');
export const KEY_ADMIN = need('KEY_ADMIN');
export const MASTER_KEY = need('MASTER_KEY');

export function log(...args) {
    console.error(new Date().toISOString().slice(11, 23), ...args);
}

export function fail(msg) {
    log('FAIL: ' + msg);
    process.exit(1);
}

export function check(cond, msg) {
    if (!cond) fail(msg);
}

export function checkEqual(got, want, what) {
    if (!isDeepStrictEqual(got, want))
        fail(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls pred every 10 ms for at most ms milliseconds. what (a string, or
// a function giving one, called only on failure) says what was awaited.
export async function waitFor(pred, ms, what) {
    const deadline = Date.now() + ms;
    while (!pred()) {
        if (Date.now() > deadline)
            fail(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? what() : what}`);
        await sleep(10);
    }
}

// The server-to-client invocations c received, for failure messages.
export function received(c) {
    const inv = c.messages.filter((m) => m.type === 1);
    const s = JSON.stringify(inv.map((m) => [m.target, ...m.arguments]));
    return `${c.name} received ${inv.length} event(s): ${s.length > 1500 ? s.slice(0, 1500) + '…' : s}`;
}

// Resolves with the promise's value; fails the test if it does not settle
// within ms. A rejection is passed on to the caller.
export function within(promise, ms, what) {
    let timer;
    const t = new Promise((_, reject) => {
        timer = setTimeout(() => fail(`${what} did not settle within ${ms} ms`), ms);
    });
    return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

// Awaits a promise that must reject; returns the error message.
export async function expectReject(promise, ms, what) {
    try {
        const v = await within(promise, ms, what);
        fail(`${what} succeeded (${JSON.stringify(v)}) but should have failed`);
    } catch (e) {
        return String(e && e.message !== undefined ? e.message : e);
    }
    return '';
}

// Opens a hub connection with the official client: access token from the
// key, automatic reconnect. Records every event named in targets (in
// c.events, arrival order) and counts raw frames by message type (pings,
// completions) by wrapping the transport's receive callback.
export async function connect(base, path, key, opts = {}) {
    const builder = new signalR.HubConnectionBuilder()
        .withUrl(base + path, { accessTokenFactory: () => key })
        .withAutomaticReconnect()
        .configureLogging(opts.logLevel ?? signalR.LogLevel.Error);
    const conn = builder.build();
    if (opts.serverTimeoutMs) conn.serverTimeoutInMilliseconds = opts.serverTimeoutMs;
    if (opts.keepAliveMs) conn.keepAliveIntervalInMilliseconds = opts.keepAliveMs;
    const c = {
        conn,
        name: opts.name ?? `${path} key…${String(key).slice(-4)}`,
        events: [],
        types: {},          // raw JSON message type -> count
        messages: [],       // raw JSON messages after the handshake
        closed: null,
        reconnecting: 0,
        reconnected: 0,
    };
    for (const t of opts.targets ?? []) {
        conn.on(t, (...args) => {
            c.events.push({ target: t, args, at: Date.now() });
        });
    }
    conn.onclose((err) => { c.closed = err ?? 'closed'; });
    conn.onreconnecting(() => { c.reconnecting++; });
    conn.onreconnected(() => { c.reconnected++; });
    const inner = conn.connection;
    const orig = inner.onreceive;
    let handshakeSeen = false;
    inner.onreceive = (data) => {
        if (typeof data === 'string') {
            for (const part of data.split('\x1e')) {
                if (!part) continue;
                if (!handshakeSeen) { handshakeSeen = true; continue; }
                try {
                    const m = JSON.parse(part);
                    c.types[m.type] = (c.types[m.type] ?? 0) + 1;
                    if (m.type !== 6) c.messages.push(m);
                } catch { /* the client reports its own parse errors */ }
            }
        }
        return orig(data);
    };
    await within(conn.start(), opts.startTimeoutMs ?? 10000, `start of ${c.name}`);
    return c;
}

// start() with key must fail with HTTP 401 at negotiate.
export async function expectRefused(base, path, key, what) {
    const conn = new signalR.HubConnectionBuilder()
        .withUrl(base + path, { accessTokenFactory: () => key })
        .withAutomaticReconnect()
        .configureLogging(signalR.LogLevel.None)
        .build();
    const msg = await expectReject(conn.start(), 10000, `start() on ${path} with ${what}`);
    check(msg.includes('401'), `start() on ${path} with ${what} failed, but not with 401: ${msg}`);
    checkEqual(conn.state, 'Disconnected', `state after a refused start() with ${what}`);
}

// Events of one target (or all) received on c.
export function eventsOf(c, target) {
    return target ? c.events.filter((e) => e.target === target) : c.events;
}

export async function stopAll(conns) {
    await Promise.all(conns.map((c) => within(c.conn.stop(), 5000, `stop of ${c.name}`)));
}

// Runs conduit-pub against this test's broker.
export function pub(args, input) {
    const r = spawnSync(need('PUB'), ['--broker', need('BROKER_ACK'), ...args], {
        encoding: 'utf8',
        input,
        timeout: 30000,
        maxBuffer: 16 << 20,
    });
    if (r.error) fail(`conduit-pub ${args.join(' ')}: ${r.error.message}`);
    return r;
}

export function pubOk(args, input) {
    const r = pub(args, input);
    if (r.status !== 0)
        fail(`conduit-pub ${args.join(' ')} exited with ${r.status}: ${r.stderr.trim()}`);
    return r;
}

// Publishes ingress maps (plain objects) fire-and-forget through a
// ZeroMQ PUB socket, as a service would (tests/e2e/zmq_pub.py).
export function pyPublish(maps) {
    const input = maps.map((m) => JSON.stringify(m)).join('\n') + '\n';
    const r = spawnSync(need('PY'), [join(here, 'zmq_pub.py'), need('BROKER_INGRESS')], {
        encoding: 'utf8',
        input,
        timeout: 30000,
    });
    if (r.error || r.status !== 0)
        fail(`zmq_pub.py failed (${r.status}): ${r.error ? r.error.message : r.stderr.trim()}`);
}

// True when every key of want is in got with a deeply equal value
// (recursively for objects): the payload arrived intact, whatever the
// broker added (timestamp, correlation id).
export function containsAll(got, want) {
    if (want === null || typeof want !== 'object' || Array.isArray(want))
        return isDeepStrictEqual(got, want);
    if (got === null || typeof got !== 'object' || Array.isArray(got)) return false;
    return Object.keys(want).every((k) => containsAll(got[k], want[k]));
}

// Runs main, then exits 0; any exception fails the test.
export function run(main) {
    const guard = setTimeout(() => fail('script did not finish within 80 s'), 80000);
    main().then(
        () => { clearTimeout(guard); process.exit(0); },
        (e) => fail(e && e.stack ? e.stack : String(e)),
    );
}

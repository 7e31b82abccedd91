// Issue #4 (t_94_curve): CurveZMQ on all three broker endpoints. The
// gateway's link is a CURVE client (its certificate is in the broker's
// clients directory), so a SignalR client of key 1 connects as usual.
// Then, to the client's group:
//   conduit-pub with an accepted certificate   -> delivered, exit 0
//   conduit-pub without CurveZMQ               -> exit 1 at once, reason
//   conduit-pub with an unknown certificate    -> exit 1 at once, reason
//   a Python PUB with an accepted certificate  -> delivered
//   a Python PUB with an unknown certificate   -> dropped, counted
//   a Python PUB without CurveZMQ              -> dropped, counted
//   a Python "gateway" with an unknown key     -> no WELCOME, counted
// and the broker's stats (asked with the accepted certificate) show the
// refused handshakes per endpoint.
// SPDX-License-Identifier: MIT
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GW1, KEY_A, check, checkEqual, connect, eventsOf, fail, log, pub, received, run, sleep, stopAll, waitFor }
    from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const env = process.env;
const C = env.ISSUE4_CERTS;
const SERVER = join(C, 'broker');
const OK = ['--curve-cert', join(C, 'pub'), '--curve-server-public', SERVER];
const EVIL = ['--curve-cert', join(C, 'evil'), '--curve-server-public', SERVER];

function event(tag) {
    return ['event', '--hub', 'TaskHub', '--group', 'vkey-1', '--target', 'TaskProgress', '--data',
        JSON.stringify({ tag })];
}

function py(mode, endpoint, own, tag) {
    const args = [join(here, 'issue4_curve.py'), mode, endpoint, SERVER, own];
    if (tag) args.push(JSON.stringify({ type: 'event', hub: 'TaskHub', group: 'vkey-1', target: 'TaskProgress',
        data: { tag } }));
    const r = spawnSync(env.PY, args, { encoding: 'utf8', timeout: 20000 });
    if (r.error || r.status !== 0) fail(`issue4_curve.py ${mode} ${own}: ${r.error ? r.error.message : r.stderr}`);
    return JSON.parse(r.stdout);
}

function stats() {
    const r = pub(['--timeout', '1000', ...OK, 'stats']);
    if (r.status !== 0) fail(`conduit-pub stats with the accepted certificate: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout);
}

function expectFast(args, reason, what) {
    const t0 = Date.now();
    const r = pub(['--timeout', '4000', ...args]);
    const took = Date.now() - t0;
    checkEqual(r.status, 1, `exit status of conduit-pub ${what}`);
    checkEqual(r.stdout, '', `stdout of conduit-pub ${what}`);
    check(reason.test(r.stderr), `conduit-pub ${what}: reason ${reason} not in: ${r.stderr.trim()}`);
    check(took < 3000, `conduit-pub ${what} took ${took} ms (it should fail at the handshake, not the timeout)`);
    log(`conduit-pub ${what}: exit 1 after ${took} ms: ${r.stderr.trim()}`);
}

const tags = (c) => eventsOf(c, 'TaskProgress').map((e) => e.args[0].tag);

run(async () => {
    check(C && env.BROKER_LINK, 'run through t_94_curve.sh');
    const c = await connect(GW1, '/hubs/tasks', KEY_A, { targets: ['TaskProgress'], name: 'key1 tasks/gwA' });
    const s0 = stats();
    checkEqual(s0.curve, true, 'stats: curve');
    check(s0.curve_endpoints.gateway_link.handshakes >= 1, `the gateway's CURVE handshake: ${JSON.stringify(s0.curve_endpoints)}`);

    let r = pub([...OK, ...event('pub-curve')]);
    checkEqual(r.status, 0, `conduit-pub with the accepted certificate (${r.stderr.trim()})`);
    await waitFor(() => tags(c).includes('pub-curve'), 5000, () => `the event of conduit-pub; ${received(c)}`);

    // (the broker's refusal reaches a plain client either as a mechanism
    // mismatch or as a closed connection: the reason names CurveZMQ)
    expectFast(event('pub-plain'), /require[s]? CurveZMQ/, 'without CurveZMQ');
    expectFast([...EVIL, ...event('pub-evil')], /refused this client's CurveZMQ key/, 'with an unknown certificate');

    r = py('pub', env.BROKER_INGRESS, join(C, 'svc'), 'py-curve');
    checkEqual(r.handshake, 'ok', 'the accepted Python PUB handshake');
    await waitFor(() => tags(c).includes('py-curve'), 5000, () => `the event of the Python PUB; ${received(c)}`);
    r = py('pub', env.BROKER_INGRESS, join(C, 'evil'), 'py-evil');
    checkEqual(r.handshake, 'failed', 'the unknown Python PUB handshake');
    r = py('pub', env.BROKER_INGRESS, '-', 'py-plain');
    check(r.handshake !== 'ok', `the plain Python PUB handshake: ${r.handshake}`);
    r = py('hello', env.BROKER_LINK, join(C, 'evil'));
    checkEqual(r.answered, false, 'a WELCOME to a gateway with an unknown key');

    await sleep(300);
    checkEqual(tags(c), ['pub-curve', 'py-curve'], 'events delivered');
    const s = stats();
    log(`curve figures: ${JSON.stringify(s.curve_endpoints)}`);
    const ep = s.curve_endpoints;
    check(ep.ingress.auth_failures >= 1, 'ingress: the unknown PUB is counted');
    check(ep.ingress.protocol_failures >= 1, 'ingress: the plain PUB is counted');
    check(ep.ingress_ack.auth_failures >= 1, 'ingress_ack: the unknown conduit-pub is counted');
    check(ep.ingress_ack.protocol_failures >= 1, 'ingress_ack: the plain conduit-pub is counted');
    check(ep.gateway_link.auth_failures >= 1, 'gateway_link: the unknown gateway is counted');
    checkEqual(s.curve_auth_failures, ep.ingress.auth_failures + ep.ingress_ack.auth_failures
        + ep.gateway_link.auth_failures, 'curve_auth_failures is the sum');
    checkEqual(s.gateways, 1, 'gateways admitted (the unknown one is not)');
    checkEqual(s.ingress_accepted.event, 2, 'events the broker accepted');
    checkEqual(c.closed, null, 'the client connection');
    await stopAll([c]);
});

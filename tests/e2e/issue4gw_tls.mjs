// Encrypted links and the Origin allow-list with the official client
// (t_98). TLS: the client negotiates over https and runs its WebSocket
// over wss, trusting the test's self-signed certificate through
// NODE_EXTRA_CA_CERTS, and receives an event; so does a skipNegotiation
// client going straight to wss; plain http to the TLS port fails. Origin:
// against a gateway with gateway.cors_origins [https://good.example], a
// client sending Origin https://evil.example is refused with 403 and one
// sending the allowed origin connects.
//
//   node issue4gw_tls.mjs TLS_BASE (https://...) ORIGIN_BASE (http://...)
//
// SPDX-License-Identifier: MIT
import {
    KEY_A, check, connect, eventsOf, expectReject, log, pubOk, run, signalR, stopAll, waitFor,
} from './lib.mjs';

const [tlsBase, originBase] = process.argv.slice(2);

function build(url, opts = {}) {
    return new signalR.HubConnectionBuilder()
        .withUrl(url, { accessTokenFactory: () => KEY_A, ...opts })
        .configureLogging(signalR.LogLevel.None)
        .build();
}

run(async () => {
    check(tlsBase.startsWith('https://'), `not an https base: ${tlsBase}`);
    const targets = ['SystemAnnouncement'];
    const a = await connect(tlsBase, '/hubs/notifications', KEY_A, { targets, name: 'https+wss' });
    // the client turns https into wss itself (it takes no ws: URLs)
    const b = build(tlsBase + '/hubs/notifications', {
        skipNegotiation: true, transport: signalR.HttpTransportType.WebSockets,
    });
    const bEvents = [];
    b.on('SystemAnnouncement', (x) => { bEvents.push(x); });
    await b.start();
    pubOk(['event', '--hub', 'SystemNotificationHub', '--group', 'vkey-1',
        '--target', 'SystemAnnouncement', '--data', '{"over":"tls"}']);
    await waitFor(() => eventsOf(a, 'SystemAnnouncement').length === 1 && bEvents.length === 1,
        5000, 'the event over wss at both clients');
    check(eventsOf(a, 'SystemAnnouncement')[0].args[0].over === 'tls', 'event payload over wss');
    log('https negotiate + wss, and skipNegotiation wss: event received');

    const plain = tlsBase.replace(/^https:/, 'http:');
    const msg = await expectReject(build(plain + '/hubs/notifications').start(), 10000,
        'start() with plain http to the TLS port');
    log(`plain http to the TLS port: ${msg}`);
    await stopAll([a]);
    await b.stop();

    const evil = await expectReject(
        build(originBase + '/hubs/notifications', { headers: { Origin: 'https://evil.example' } }).start(),
        10000, 'start() from https://evil.example');
    check(evil.includes('403'), `start() from a foreign origin failed, but not with 403: ${evil}`);
    const evilWs = await expectReject(
        build(originBase + '/hubs/notifications', {
            headers: { Origin: 'https://evil.example' },
            skipNegotiation: true, transport: signalR.HttpTransportType.WebSockets,
        }).start(), 10000, 'skipNegotiation start() from https://evil.example');
    log(`Origin https://evil.example refused: negotiate "${evil}", upgrade "${evilWs}"`);
    const good = await connect(originBase, '/hubs/notifications', KEY_A, { name: 'good origin' });
    await stopAll([good]);
    const goodB = build(originBase + '/hubs/notifications', { headers: { Origin: 'https://good.example' } });
    await goodB.start();
    await goodB.stop();
    log('no Origin and Origin https://good.example: connected');
});

// Issue #3 (t_73): webhook isolation. Tenants 1 and 2 both subscribe to
// the same URL (on both gateways); an outcome for key 1 reaches only
// tenant 1 and one for key 2 only tenant 2; a URL nobody subscribed to
// reaches nobody; Unsubscribe stops delivery.
// SPDX-License-Identifier: MIT
import {
    GW1, GW2, KEY_A, KEY_B, checkEqual, connect, eventsOf, log, pubOk, received,
    run, sleep, stopAll, waitFor,
} from './lib.mjs';

const HUB = '/hubs/webhooks';
const URL = 'https://hook.example/x';
const T = ['WebhookDelivered', 'WebhookFailed', 'WebhookRetryScheduled', 'CircuitBreakerStateChanged'];

run(async () => {
    const a1 = await connect(GW1, HUB, KEY_A, { targets: T, name: 'tenant1/gwA' });
    const a2 = await connect(GW2, HUB, KEY_A, { targets: T, name: 'tenant1/gwB' });
    const b1 = await connect(GW1, HUB, KEY_B, { targets: T, name: 'tenant2/gwA' });
    const b2 = await connect(GW2, HUB, KEY_B, { targets: T, name: 'tenant2/gwB' });
    const all = [a1, a2, b1, b2];
    for (const c of all) await c.conn.invoke('SubscribeToWebhooks', [URL]);

    pubOk(['webhook', '--key', '1', '--url', URL, '--status', 'delivered', '--status-code', '200',
        '--attempt', '1', '--cid', 'w-1']);
    pubOk(['webhook', '--key', '2', '--url', URL, '--status', 'failed', '--status-code', '503',
        '--attempt', '3', '--error', 'upstream timeout']);
    pubOk(['webhook', '--key', '1', '--url', URL, '--status', 'circuit_open']);
    pubOk(['webhook', '--key', '1', '--url', 'https://hook.example/y', '--status', 'delivered']);
    for (const c of [a1, a2])
        await waitFor(() => eventsOf(c).length >= 2, 5000, () => `2 events at ${c.name}; ${received(c)}`);
    for (const c of [b1, b2])
        await waitFor(() => eventsOf(c).length >= 1, 5000, () => `1 event at ${c.name}; ${received(c)}`);
    await sleep(700);
    for (const c of [a1, a2]) {
        checkEqual(eventsOf(c).map((e) => e.target), ['WebhookDelivered', 'CircuitBreakerStateChanged'],
            `events of tenant 1 at ${c.name}`);
        const [d, cb] = eventsOf(c).map((e) => e.args[0]);
        checkEqual([d.virtualKeyId, d.url, d.status, d.statusCode, d.attempt, d.correlationId],
            [1, URL, 'delivered', 200, 1, 'w-1'], `WebhookDelivered at ${c.name}`);
        checkEqual([cb.virtualKeyId, cb.state], [1, 'open'], `CircuitBreakerStateChanged at ${c.name}`);
    }
    for (const c of [b1, b2]) {
        checkEqual(eventsOf(c).map((e) => e.target), ['WebhookFailed'], `events of tenant 2 at ${c.name}`);
        const f = eventsOf(c)[0].args[0];
        checkEqual([f.virtualKeyId, f.url, f.statusCode, f.attempt, f.error], [2, URL, 503, 3, 'upstream timeout'],
            `WebhookFailed at ${c.name}`);
    }
    log('each tenant got only its own deliveries');

    await a1.conn.invoke('UnsubscribeFromWebhooks', [URL]);
    pubOk(['webhook', '--key', '1', '--url', URL, '--status', 'retry_scheduled', '--attempt', '2']);
    await waitFor(() => eventsOf(a2).length >= 3, 5000, () => `the retry at ${a2.name}; ${received(a2)}`);
    await sleep(500);
    checkEqual(eventsOf(a1).length, 2, `events at ${a1.name} after it unsubscribed`);
    checkEqual(eventsOf(a2).at(-1).target, 'WebhookRetryScheduled', `last event at ${a2.name}`);
    checkEqual(eventsOf(b1).length + eventsOf(b2).length, 2, 'events of tenant 2 in all');
    log('unsubscribe ok');
    await stopAll(all);
});

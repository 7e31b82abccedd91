// Tenant isolation with exact counts (t_40): the three keys of the
// configuration (the admin virtual key is a tenant like any other here).
// SPDX-License-Identifier: MIT
import {
    GW1, GW2, KEY_A, KEY_ADMIN, KEY_B, checkEqual, connect, eventsOf, log, pubOk, run,
    sleep, stopAll, waitFor,
} from './lib.mjs';

run(async () => {
    const tenants = [
        { id: 1, key: KEY_A, events: 3 },
        { id: 2, key: KEY_B, events: 6 },
        { id: 3, key: KEY_ADMIN, events: 2 },
    ];

    const conns = [];
    for (let i = 0; i < 20; i++) {
        const t = tenants[i % tenants.length];
        const onB = Math.floor(i / tenants.length) % 2 === 1; // each key on both
        const c = await connect(onB ? GW2 : GW1, '/hubs/spend-notifications', t.key,
            { targets: ['SpendUpdate'], name: `conn${i}/key${t.id}/${onB ? 'gwB' : 'gwA'}` });
        c.tenant = t;
        conns.push(c);
    }
    log('20 connections up');

    // interleave the tenants' events in one NDJSON stream
    const lines = [];
    for (let n = 0; n < 6; n++)
        for (const t of tenants)
            if (n < t.events)
                lines.push(JSON.stringify({
                    type: 'event', hub: 'SpendNotificationHub', group: `vkey-${t.id}`,
                    target: 'SpendUpdate', data: { tenant: t.id, n },
                }));
    pubOk(['ndjson'], lines.join('\n') + '\n');

    for (const c of conns)
        await waitFor(() => eventsOf(c, 'SpendUpdate').length >= c.tenant.events, 10000,
            `${c.tenant.events} events at ${c.name} (has ${eventsOf(c, 'SpendUpdate').length})`);
    await sleep(1000);
    for (const c of conns) {
        const got = eventsOf(c, 'SpendUpdate').map((e) => e.args[0] && e.args[0].tenant);
        checkEqual(got, Array(c.tenant.events).fill(c.tenant.id), `tenants of the events at ${c.name}`);
        const ns = eventsOf(c, 'SpendUpdate').map((e) => e.args[0].n);
        checkEqual(ns, [...Array(c.tenant.events).keys()], `order of the events at ${c.name}`);
        checkEqual(c.messages.filter((m) => m.type === 1).length, c.tenant.events,
            `invocations at ${c.name}`);
    }
    await stopAll(conns);
});

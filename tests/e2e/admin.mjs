// The admin hub refuses virtual keys and serves the master key (t_50).
// SPDX-License-Identifier: MIT
import {
    GW1, GW2, KEY_A, KEY_ADMIN, MASTER_KEY, check, checkEqual, connect,
    containsAll, eventsOf, expectRefused, log, pubOk, run, sleep, stopAll,
    waitFor,
} from './lib.mjs';

run(async () => {
    await expectRefused(GW1, '/hubs/admin-notifications', KEY_A, 'the virtual key of tenant A');
    await expectRefused(GW2, '/hubs/admin-notifications', KEY_ADMIN, 'the admin virtual key');
    log('virtual keys refused');

    const targets = ['SystemAlert', 'SpendUpdate'];
    const m1 = await connect(GW1, '/hubs/admin-notifications', MASTER_KEY, { targets });
    const m2 = await connect(GW2, '/hubs/admin-notifications', MASTER_KEY, { targets });
    const tenant = await connect(GW1, '/hubs/spend-notifications', KEY_A, { targets });
    const alert = { severity: 'critical', message: 'disk full', component: 'e2e' };
    pubOk(['event', '--hub', 'AdminNotificationHub', '--group', 'admin', '--target', 'SystemAlert',
        '--data', JSON.stringify(alert)]);
    for (const c of [m1, m2])
        await waitFor(() => eventsOf(c, 'SystemAlert').length >= 1, 5000, `SystemAlert at ${c.name}`);
    await sleep(500);
    for (const c of [m1, m2]) {
        checkEqual(eventsOf(c, 'SystemAlert').length, 1, `SystemAlert count at ${c.name}`);
        check(containsAll(eventsOf(c, 'SystemAlert')[0].args[0], alert),
            `SystemAlert payload: ${JSON.stringify(eventsOf(c, 'SystemAlert')[0].args[0])}`);
    }
    checkEqual(tenant.messages.filter((m) => m.type === 1).length, 0, 'events at a tenant connection');
    await stopAll([m1, m2, tenant]);
});

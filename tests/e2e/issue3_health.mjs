// Issue #3 (t_72): provider health with hysteresis 3. A provider that
// flaps announces nothing; a status held for three reports is announced
// exactly once, on SystemNotificationHub (system-notifications) and on
// AdminNotificationHub (admin, admin-provider-{name}).
// SPDX-License-Identifier: MIT
import {
    GW1, GW2, KEY_A, MASTER_KEY, checkEqual, connect, eventsOf, log, pubOk, received,
    run, sleep, stopAll, waitFor,
} from './lib.mjs';

const T = ['ProviderHealthChanged'];

run(async () => {
    const note = await connect(GW1, '/hubs/notifications', KEY_A, { targets: T, name: 'tenant1 notifications/gwA' });
    const adm = await connect(GW2, '/hubs/admin-notifications', MASTER_KEY, { targets: T, name: 'master/gwB' });
    const admP = await connect(GW1, '/hubs/admin-notifications', MASTER_KEY, { targets: T, name: 'master+provider/gwA' });
    await admP.conn.invoke('SubscribeToProvider', 'openai'); // admin + admin-provider-openai: once each
    const report = (provider, status, ms) => pubOk(['provider-health', '--provider', provider, '--status', status,
        '--response-ms', String(ms), '--details', `${status} at ${ms}`]);

    // flapping, from nothing known: never three in a row
    ['healthy', 'unhealthy', 'healthy', 'unhealthy', 'degraded', 'healthy', 'degraded']
        .forEach((s, i) => report('flappy', s, 100 + i));
    await sleep(700);
    for (const c of [note, adm, admP])
        checkEqual(eventsOf(c).length, 0, `events at ${c.name} after flapping (${received(c)})`);
    log('flapping announced nothing');

    // openai: healthy held -> announced; a flap -> nothing; degraded held
    // -> announced once; more of the same -> nothing
    ['healthy', 'healthy', 'healthy', 'unhealthy', 'healthy', 'unhealthy', 'healthy',
        'degraded', 'degraded', 'degraded', 'degraded', 'degraded']
        .forEach((s, i) => report('openai', s, 10 * (i + 1)));
    for (const c of [note, adm, admP])
        await waitFor(() => eventsOf(c).length >= 2, 5000, () => `2 changes at ${c.name}; ${received(c)}`);
    await sleep(700);
    for (const c of [note, adm, admP]) {
        const got = eventsOf(c).map((e) => e.args[0]);
        checkEqual(got.map((p) => [p.provider, p.status, p.previousStatus, p.responseTimeMs, p.details]), [
            ['openai', 'healthy', null, 30, 'healthy at 30'],
            ['openai', 'degraded', 'healthy', 100, 'degraded at 100'],
        ], `ProviderHealthChanged at ${c.name}`);
        checkEqual(got.every((p) => typeof p.timestamp === 'string'), true, 'timestamps');
    }
    log('held changes announced once on both hubs');
    await stopAll([note, adm, admP]);
});

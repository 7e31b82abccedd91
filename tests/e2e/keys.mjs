// Run-time key management (t_45).
// SPDX-License-Identifier: MIT
import {
    GW1, GW2, MASTER_KEY, checkEqual, connect, eventsOf,
    expectRefused, log, pubOk, received, run, sleep, stopAll, waitFor,
} from './lib.mjs';

const HUB = '/hubs/spend-notifications';
const ID = '77';

run(async () => {
    const secret = `condt_e2e_runtime_${process.pid}_000000000077`;
    const secret2 = `condt_e2e_rotated_${process.pid}_000000000077`;
    const targets = ['SpendUpdate'];
    const admin = await connect(GW1, '/hubs/admin-notifications', MASTER_KEY,
        { targets: ['VirtualKeyUpdated', 'VirtualKeyDeleted'], name: 'master' });

    await expectRefused(GW1, HUB, secret, 'a key not added yet');
    pubOk(['key', 'add', '--id', ID, '--name', 'e2e-runtime', '--secret', secret]);
    const c1 = await connect(GW1, HUB, secret, { targets, name: 'key77/gwA' });
    const c2 = await connect(GW2, HUB, secret, { targets, name: 'key77/gwB' });
    pubOk(['event', '--hub', 'SpendNotificationHub', '--group', `vkey-${ID}`, '--target', 'SpendUpdate',
        '--data', '{"n":1}']);
    for (const c of [c1, c2])
        await waitFor(() => eventsOf(c, 'SpendUpdate').length === 1, 5000,
            () => `the event of key ${ID} at ${c.name}; ${received(c)}`);
    log('added key connects and receives');

    pubOk(['key', 'disable', '--id', ID]);
    for (const c of [c1, c2])
        await waitFor(() => c.closed !== null, 5000, `${c.name} to be closed after disable`);
    await sleep(1000); // automatic reconnect would have started at once
    for (const c of [c1, c2]) {
        checkEqual(c.reconnecting, 0, `reconnect attempts of ${c.name} after disable`);
        checkEqual(c.conn.state, 'Disconnected', `state of ${c.name} after disable`);
    }
    await expectRefused(GW2, HUB, secret, 'a disabled key');
    log('disabled key closed everywhere and refused');

    pubOk(['key', 'enable', '--id', ID]);
    const c3 = await connect(GW2, HUB, secret, { targets, name: 'key77/gwB again' });
    pubOk(['key', 'update', '--id', ID, '--secret', secret2]);
    await expectRefused(GW1, HUB, secret, 'the replaced secret');
    const c4 = await connect(GW1, HUB, secret2, { targets, name: 'key77 rotated/gwA' });
    log('enable and rotation work');

    pubOk(['key', 'delete', '--id', ID]);
    await waitFor(() => c4.closed !== null, 5000, `${c4.name} to be closed after delete`);
    await expectRefused(GW1, HUB, secret2, 'a deleted key');
    await waitFor(() => eventsOf(admin, 'VirtualKeyDeleted').some((e) =>
        JSON.stringify(e.args).includes(ID)), 5000,
    () => `VirtualKeyDeleted for key ${ID} on the admin hub; ${received(admin)}`);
    await stopAll([admin, c3]);
});

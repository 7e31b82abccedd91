// Auto-joined groups receive events from conduit-pub and from a PUB socket
// (t_20).
// SPDX-License-Identifier: MIT
import {
    GW1, GW2, KEY_A, KEY_B, check, checkEqual, connect, containsAll,
    eventsOf, log, pubOk, pyPublish, run, sleep, stopAll, waitFor,
} from './lib.mjs';

const invocations = (c) => c.messages.filter((m) => m.type === 1);

run(async () => {
    const targets = ['SpendUpdate', 'BudgetAlert', 'TaskProgress'];
    const a = await connect(GW1, '/hubs/spend-notifications', KEY_A, { targets });
    const a2 = await connect(GW2, '/hubs/spend-notifications', KEY_A, { targets });
    const b = await connect(GW2, '/hubs/spend-notifications', KEY_B, { targets });
    const aTask = await connect(GW1, '/hubs/tasks', KEY_A, { targets });

    // 1. conduit-pub event --data: one argument, payload intact
    const data = {
        amount: 0.25,
        totalSpend: 12.5,
        nested: { list: [1, 'two', null, true, 3.5, -7], empty: {}, none: [] },
        text: 'h\u00e9llo \u2713 "quoted" \\ back\nslash / tab\t \ud83d\ude80',
        big: 9007199254740991,
    };
    pubOk(['event', '--hub', 'SpendNotificationHub', '--group', 'vkey-1',
        '--target', 'SpendUpdate', '--data', JSON.stringify(data)]);
    for (const c of [a, a2])
        await waitFor(() => eventsOf(c, 'SpendUpdate').length >= 1, 5000,
            `SpendUpdate from conduit-pub on ${c.name}`);
    for (const c of [a, a2]) {
        const e = eventsOf(c, 'SpendUpdate')[0];
        checkEqual(e.args.length, 1, 'number of arguments of a --data event');
        check(containsAll(e.args[0], data),
            `payload changed on the way: sent ${JSON.stringify(data)}, got ${JSON.stringify(e.args[0])}`);
    }
    log('conduit-pub --data event arrived intact');

    // 2. conduit-pub event --args: the argument list as given
    const args = ['first', 2, { k: [true, null] }];
    pubOk(['event', '--hub', '/hubs/spend-notifications', '--group', 'vkey-1',
        '--target', 'BudgetAlert', '--args', JSON.stringify(args)]);
    await waitFor(() => eventsOf(a, 'BudgetAlert').length >= 1, 5000, 'BudgetAlert with --args');
    const ba = eventsOf(a, 'BudgetAlert')[0];
    checkEqual(ba.args.length, 3, 'number of arguments of an --args event');
    checkEqual(ba.args[0], 'first', 'argument 0');
    checkEqual(ba.args[1], 2, 'argument 1');
    check(containsAll(ba.args[2], args[2]), `argument 2: ${JSON.stringify(ba.args[2])}`);

    // 3. a service's PUB socket, fire-and-forget
    const pyData = { marker: 'from-python', amount: 7, unicode: '\u65e5\u672c', list: [1.5, 'x'] };
    pyPublish([
        { type: 'event', hub: 'SpendNotificationHub', group: 'vkey-1', target: 'SpendUpdate', data: pyData },
        { type: 'event', hub: 'SpendNotificationHub', group: 'vkey-2', target: 'SpendUpdate', data: { marker: 'for-b' } },
    ]);
    await waitFor(() => eventsOf(a, 'SpendUpdate').some((e) => containsAll(e.args[0], pyData)),
        10000, 'the PUB socket event at tenant A');
    await waitFor(() => eventsOf(b, 'SpendUpdate').some((e) => e.args[0] && e.args[0].marker === 'for-b'),
        10000, 'the PUB socket event at tenant B');
    log('PUB socket events arrived');

    // 4. the same group name on another hub is another group
    pubOk(['event', '--hub', 'TaskHub', '--group', 'vkey-1', '--target', 'TaskProgress',
        '--data', '{"percent":10}']);
    await waitFor(() => eventsOf(aTask, 'TaskProgress').length === 1, 5000, 'TaskProgress on TaskHub');

    await sleep(700);
    checkEqual(invocations(a).length, 3, `events at tenant A (${JSON.stringify(invocations(a))})`);
    checkEqual(invocations(a2).length, 3, 'events at tenant A on gateway B');
    checkEqual(invocations(b).length, 1, `events at tenant B (${JSON.stringify(invocations(b))})`);
    checkEqual(invocations(aTask).length, 1, 'events at tenant A on TaskHub');
    checkEqual(eventsOf(b, 'SpendUpdate')[0].args[0].marker, 'for-b', 'the event tenant B got');
    await stopAll([a, a2, b, aTask]);
});

// Wrong argument types and odd numbers from the official client (t_97):
// each blocking call gets an error Completion and the connection stays
// usable; nothing is closed.
// SPDX-License-Identifier: MIT
import {
    GW1, KEY_A, check, checkEqual, connect, expectReject, log, run, stopAll, within,
} from './lib.mjs';

run(async () => {
    const c = await connect(GW1, '/hubs/tasks', KEY_A, { name: 'arguments' });
    const want = "Failed to invoke 'SubscribeToTask' due to an error on the server.";
    const cases = [
        ['a number', [123]],
        ['an object', [{}]],
        ['an array', [[1, 2]]],
        ['null', [null]],
        ['no argument', []],
        ['two arguments', ['a', 'b']],
        ['a huge double', [1e308]],
        ['a huge integer', [2 ** 64]],
        ['a boolean', [true]],
    ];
    for (const [what, args] of cases) {
        const msg = await expectReject(c.conn.invoke('SubscribeToTask', ...args), 5000,
            `SubscribeToTask with ${what}`);
        checkEqual(msg, want, `error of SubscribeToTask with ${what}`);
        log(`SubscribeToTask(${JSON.stringify(args).slice(1, -1)}): ${msg}`);
    }
    // the connection is as good as before
    const r = await within(c.conn.invoke('SubscribeToTaskType', 'video'), 5000,
        'invoke SubscribeToTaskType after the bad calls');
    check(r === null || r === undefined, `SubscribeToTaskType returned ${JSON.stringify(r)}`);
    checkEqual(c.conn.state, 'Connected', 'state after bad arguments');
    check(!c.closed && c.reconnecting === 0, 'connection dropped after bad arguments');
    await stopAll([c]);
});

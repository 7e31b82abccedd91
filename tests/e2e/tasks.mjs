// SubscribeToTask / SubscribeToVideoGeneration / SubscribeToImageGeneration
// (t_30). The texts come from etc/hubs.yaml.
// SPDX-License-Identifier: MIT
import {
    GW1, GW2, KEY_A, KEY_ADMIN, KEY_B, check, checkEqual, connect,
    expectReject, log, pubOk, received, run, sleep, stopAll, waitFor, within,
} from './lib.mjs';

const cases = [
    {
        hub: '/hubs/tasks', method: 'SubscribeToTask', type: 'video',
        progress: 'TaskProgress', completed: 'TaskCompleted',
        notFound: 'Task not found', denied: 'Unauthorized access to task',
    },
    {
        hub: '/hubs/video-generation', method: 'SubscribeToVideoGeneration', type: 'video',
        progress: 'VideoProgress', completed: 'VideoCompleted',
        notFound: 'Video generation request not found',
        denied: 'Access denied to video generation request',
    },
    {
        hub: '/hubs/video-generation', method: 'SubscribeToTask', type: 'video',
        progress: 'VideoProgress', completed: 'VideoCompleted',
        notFound: 'Video generation request not found',
        denied: 'Access denied to video generation request',
    },
    {
        hub: '/hubs/image-generation', method: 'SubscribeToImageGeneration', type: 'image',
        progress: 'ImageProgress', completed: 'ImageCompleted',
        notFound: 'Image generation request not found',
        denied: 'Access denied to image generation request',
    },
];

const invocations = (c) => c.messages.filter((m) => m.type === 1);
const about = (c, id) => invocations(c).filter((m) => JSON.stringify(m.arguments).includes(id));
// The SDK's events are positional (TaskProgress(taskId, percent, message));
// accept the percent as an argument or as a field of an object argument.
const hasPercent = (args, pct) => args.some((a) => a === pct || (a !== null &&
    typeof a === 'object' && [a.percent, a.progress, a.progressPercentage].includes(pct)));
const progressWith = (c, target, id, pct) => invocations(c).filter((m) =>
    m.target === target && JSON.stringify(m.arguments).includes(id) &&
    hasPercent(m.arguments, pct));

async function oneCase(k, cs) {
    const where = `${cs.hub} ${cs.method}`;
    const id = `e2e-${cs.type}-${k}-${process.pid}`;
    pubOk(['task', '--id', id, '--type', cs.type, '--key', '1', '--state', 'started',
        '--message', 'queued']);

    const owner = await connect(GW1, cs.hub, KEY_A);
    const other = await connect(GW2, cs.hub, KEY_B);
    const admin = await connect(GW2, cs.hub, KEY_ADMIN);

    // the owner may subscribe, and gets the task's state at once
    await within(owner.conn.invoke(cs.method, id), 5000, `${where}: owner subscribes`);
    await waitFor(() => about(owner, id).length >= 1, 3000,
        () => `${where}: the task's latest state right after subscribing; ${received(owner)}`);

    // another tenant may not
    const denied = await expectReject(other.conn.invoke(cs.method, id), 5000,
        `${where}: tenant B subscribes to tenant A's task`);
    check(denied.includes(cs.denied), `${where}: denial text '${denied}' lacks '${cs.denied}'`);

    // the admin virtual key may
    await within(admin.conn.invoke(cs.method, id), 5000, `${where}: admin key subscribes`);

    // a task nobody reported
    const missing = await expectReject(owner.conn.invoke(cs.method, `${id}-unknown`), 5000,
        `${where}: subscribing to an unknown task`);
    check(missing.includes(cs.notFound), `${where}: not-found text '${missing}' lacks '${cs.notFound}'`);

    // the next progress reaches the subscribers and nobody else
    pubOk(['task', '--id', id, '--type', cs.type, '--state', 'progress', '--percent', '40',
        '--message', 'rendering']);
    await waitFor(() => progressWith(owner, cs.progress, id, 40).length === 1, 5000,
        () => `${where}: ${cs.progress} 40% at the owner; ${received(owner)}`);
    await waitFor(() => progressWith(admin, cs.progress, id, 40).length === 1, 5000,
        () => `${where}: ${cs.progress} 40% at the admin key; ${received(admin)}`);

    // a late subscriber sees the latest state without a new publish
    const late = await connect(GW2, cs.hub, KEY_A);
    await within(late.conn.invoke(cs.method, id), 5000, `${where}: late subscribe`);
    await waitFor(() => progressWith(late, cs.progress, id, 40).length === 1, 3000,
        () => `${where}: the latest state (${cs.progress} 40%) at a late subscriber; ${received(late)}`);

    // the terminal event
    pubOk(['task', '--id', id, '--type', cs.type, '--state', 'completed',
        '--result', JSON.stringify({ url: `https://cdn.example/${id}.mp4` })]);
    for (const c of [owner, admin, late])
        await waitFor(() => invocations(c).some((m) => m.target === cs.completed &&
            JSON.stringify(m.arguments).includes(`${id}.mp4`)), 5000,
        () => `${where}: ${cs.completed} at ${c.name}; ${received(c)}`);

    await sleep(300);
    checkEqual(about(other, id), [], `${where}: events of tenant A's task at tenant B`);
    checkEqual(other.conn.state, 'Connected', `${where}: tenant B's state after the denial`);
    await stopAll([owner, other, admin, late]);
    log(`${where}: ok`);
}

run(async () => {
    for (const [k, cs] of cases.entries())
        await oneCase(k, cs);
});

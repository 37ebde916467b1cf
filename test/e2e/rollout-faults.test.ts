/** Waves through faults: the elected coordinator killed mid-rollout, and a later wave's agent restarted mid-rollout. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedEtcd, uniquePrefix } from '../support/etcd';
import { rolloutHosts } from '../support/rollout';
import { waitFor } from '../support/util';

const shared = sharedEtcd();
const { startHost, firstWith, put, report, stopAll } = rolloutHosts(shared);

const ELECTED = 'elected to coordinate the rollouts';

test('the elected coordinator is killed mid-rollout: another takes over and the rollout goes on, nothing applied early', async () => {
  const p = uniquePrefix('wavekill');
  await put(`${p}/app/k`, '1');
  // h0 starts first and is elected; the others campaign behind it.
  const h0 = startHost(p, 'h0', 0);
  await h0.agent.waitForLog((l) => l.msg === ELECTED, 'h0 elected', 30_000);
  const h1 = startHost(p, 'h1', 1);
  const h2 = startHost(p, 'h2', 2);
  const hosts = [h0, h1, h2];
  try {
    await waitFor(() => firstWith(h2, '/app/k=1'), 'wave 2 to apply the first data', 60_000);
    const rev = await put(`${p}/app/k`, '2');
    await waitFor(async () => {
      const t = (await report(p, 'h0'))?.targets.app;
      return t?.state === 'ok' && t.revision >= rev;
    }, 'h0 to report k=2 ok', 30_000);
    // Mid-rollout: wave 0 bakes k=2. Its report stays for its lease (30 s), ok at k=2: true, it applied it.
    h0.agent.child.kill('SIGKILL');
    await h0.agent.exited;
    const next = await Promise.race([h1, h2].map((h) => h.agent.waitForLog((l) => l.msg === ELECTED, `${h.name} elected`, 60_000)));
    const tookOver = Date.parse(String(next.time));
    const [a1, a2] = await Promise.all([h1, h2].map((h) => waitFor(() => firstWith(h, '/app/k=2'), `${h.name} to apply k=2`, 60_000)));
    // The new coordinator's bake clock starts when it takes over: wave 1 no sooner than bake after that.
    assert.ok(a1.ms - tookOver >= 2000, `wave 1 applied ${a1.ms - tookOver} ms after the takeover`);
    assert.ok(a2.ms - a1.ms >= 2000, `wave 2 applied ${a2.ms - a1.ms} ms after wave 1`);
  } finally {
    await stopAll(hosts);
  }
});

test('an agent restarted mid-rollout waits for its wave\'s turn instead of applying at start-up', async () => {
  const p = uniquePrefix('waverestart');
  await put(`${p}/app/k`, '1');
  const w0 = startHost(p, 'r0', 0, { bake: '3s' });
  let w1 = startHost(p, 'r1', 1, { bake: '3s' });
  try {
    await waitFor(() => firstWith(w1, '/app/k=1'), 'wave 1 to apply the first data', 60_000);
    await put(`${p}/app/k`, '2');
    const a0 = await waitFor(() => firstWith(w0, '/app/k=2'), 'wave 0 to apply k=2', 30_000);
    await w1.agent.stop();
    w1 = { ...w1, agent: (await import('../support/cli')).AgentProcess.start(w1.args) };
    await waitFor(async () => (await report(p, 'r1'))?.targets.app?.state === 'waiting', 'the restarted r1 to say that it waits', 30_000);
    const a1 = await waitFor(() => firstWith(w1, '/app/k=2'), 'wave 1 to apply k=2', 60_000);
    assert.ok(a1.ms - a0.ms >= 3000, `the restarted wave 1 applied ${a1.ms - a0.ms} ms after wave 0`);
  } finally {
    await stopAll([w0, w1]);
  }
});

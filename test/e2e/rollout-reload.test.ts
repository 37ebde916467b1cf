/**
 * Waves and SIGHUP: agents (processes, against a real etcd) that start with no `rollout` target and get one from a
 * SIGHUP campaign for the coordinator then, and resign once a SIGHUP takes the last one away.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedEtcd, uniquePrefix } from '../support/etcd';
import { rolloutHosts, type Host } from '../support/rollout';
import { waitFor } from '../support/util';

const shared = sharedEtcd();
const { startHost, rewrite, firstWith, put, report, stopAll } = rolloutHosts(shared);

const RELOADED = 'SIGHUP: configuration reloaded';

/** Sends SIGHUP and waits until the agent says it loaded the new configuration. */
async function hup(h: Host): Promise<void> {
  const before = h.agent.count((l) => l.msg === RELOADED);
  h.agent.child.kill('SIGHUP');
  await waitFor(() => h.agent.count((l) => l.msg === RELOADED) > before, `${h.name} to reload its configuration`, 30_000);
}

/** The names campaigning in the rollout election (etcd3 puts each candidate's value under its lease's key). */
async function candidates(p: string): Promise<string[]> {
  const kvs = await shared.client.getAll().prefix(`${p}-fleet/rollout-election/`).strings();
  return Object.values(kvs).sort();
}

test('a SIGHUP that adds the first rollout target starts the campaign: a change reaches wave 1 only after wave 0 proved it; removing it resigns', async () => {
  const p = uniquePrefix('wavehup');
  await put(`${p}/app/k`, '1');
  const hosts = [startHost(p, 'u0', 0, { rollout: false }), startHost(p, 'u1', 1, { rollout: false })];
  const h1 = hosts[1];
  try {
    await waitFor(() => firstWith(h1, '/app/k=1'), 'wave 1 to apply the first data (no rollout yet)', 60_000);
    assert.deepEqual(await candidates(p), [], 'no agent campaigns while no target has a rollout');
    for (const h of hosts) rewrite(h, { bake: '2s' });
    await Promise.all(hosts.map(hup));
    // Wave 1 holds k=1; it goes back to `ok` once wave 0 has proven what is there, which takes a coordinator.
    await waitFor(async () => {
      const t = (await report(p, 'u1'))?.targets.app;
      return t?.state === 'ok' && (await candidates(p)).length === 2;
    }, 'u1 ok again under the rollout, and both agents campaigning', 60_000);
    await put(`${p}/app/k`, '2');
    const [a0, a1] = await Promise.all(hosts.map((h) => waitFor(() => firstWith(h, '/app/k=2'), `${h.name} to apply k=2`, 60_000)));
    assert.ok(a1.ms - a0.ms >= 2000, `wave 1 applied ${a1.ms - a0.ms} ms after wave 0`);
    // The last rollout target goes: both resign (their election keys go now, not with a lease that stays alive).
    for (const h of hosts) rewrite(h, { rollout: false });
    await Promise.all(hosts.map(hup));
    await waitFor(async () => (await candidates(p)).length === 0, 'both agents to resign from the election', 30_000);
    // And wave 1 applies as any agent does again.
    await put(`${p}/app/k`, '3');
    await waitFor(() => firstWith(h1, '/app/k=3'), 'wave 1 to apply k=3 without a rollout', 30_000);
  } finally {
    await stopAll(hosts);
  }
});

/**
 * Waves and changes made on a host: agents (processes, against a real etcd) that start with no `rollout` target
 * and get one from a SIGHUP campaign for the coordinator then, and resign once a SIGHUP takes the last one away; a
 * canary that an operator rolls back by hand (`reconfig rollback`) halts what it was rolled back from, also when its
 * agent was down meanwhile and restarts held.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AgentProcess, runCli } from '../support/cli';
import { sharedEtcd, uniquePrefix } from '../support/etcd';
import { rolloutHosts, type Host } from '../support/rollout';
import { readOr, waitFor } from '../support/util';
import type { RolloutRecord } from '../../src/rollout/record';

const shared = sharedEtcd();
const { port, startHost, rewrite, applied, firstWith, put, report, stopAll } = rolloutHosts(shared);

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

/**
 * A canary (wave 0, with history) and a host of wave 1 on k=1; then, under an operator's halt (so that wave 1 does
 * not take k=2 while the canary bakes it, whatever the machine's speed), k=2, ok on the canary and proven by wave 0:
 * the hard case, where wave 0 proves a change before the operator finds it bad.
 */
async function provenUnderHalt(p: string, names: [string, string]): Promise<{ canary: Host; w1: Host; bad: number; control: (...args: string[]) => ReturnType<typeof runCli> }> {
  const control = (...args: string[]): ReturnType<typeof runCli> => runCli(['fleet', ...args, '--port', port(), '--report', `${p}-fleet`]);
  await put(`${p}/app/k`, '1');
  const canary = startHost(p, names[0], 0, { bake: '1s', history: 3 });
  const w1 = startHost(p, names[1], 1, { bake: '1s' });
  try {
    await waitFor(() => firstWith(w1, '/app/k=1'), 'wave 1 to apply the first data', 60_000);
    const halt = await control('halt');
    assert.equal(halt.code, 0, halt.stderr);
    const bad = await put(`${p}/app/k`, '2');
    await waitFor(async () => {
      const t = (await report(p, names[0]))?.targets.app;
      return t?.state === 'ok' && t.revision >= bad;
    }, 'the canary ok at k=2', 30_000);
    await waitFor(async () => {
      const record = JSON.parse((await shared.client.get(`${p}-fleet/rollout/app`).string()) ?? '{}') as RolloutRecord;
      return (record.waves?.['0']?.proven?.revision ?? 0) >= bad;
    }, 'wave 0 to prove k=2', 30_000);
    return { canary, w1, bad, control };
  } catch (err) {
    await stopAll([canary, w1]);
    throw err;
  }
}

/** Rolls the canary back by hand (its agent running or not); it holds k=1 again. */
async function rollBackByHand(canary: Host): Promise<void> {
  const back = await runCli(['rollback', 'app', '-c', canary.dir, '--state-dir', `${canary.dir}/state`]);
  assert.equal(back.code, 0, back.stderr);
  assert.equal(readOr(canary.dest), '/app/k=1\n', 'the canary holds k=1 again');
}

/** After the resume, wave 1 reports the halt by hand; returns the revision halted. */
async function haltedByHand(p: string, w1: Host, canary: Host): Promise<number> {
  const msg = await waitFor(async () => {
    const m = (await report(p, w1.name))?.targets.app?.message ?? '';
    return new RegExp(`^halted at \\d+: ${canary.name} rolled back by hand: held at version \\d+ by reconfig rollback`).test(m) ? m : undefined;
  }, 'wave 1 to report the halt by hand', 30_000);
  return Number(/^halted at (\d+)/.exec(msg)![1]);
}

/** The sentinel: newer data releases the hold and rolls out; only then is "wave 1 never took k=2" proven. */
async function neverTookBad(p: string, w1: Host): Promise<void> {
  await put(`${p}/app/k`, '3');
  await waitFor(() => firstWith(w1, '/app/k=3'), 'wave 1 to apply k=3', 60_000);
  assert.deepEqual(applied(w1).map((a) => a.lines.join()), ['/app/k=1', '/app/k=3'], 'wave 1 never applied k=2');
}

test('a canary rolled back by hand (reconfig rollback) halts the revision it was rolled back from for the later waves, saying so', async () => {
  const p = uniquePrefix('wavehand');
  const { canary, w1, bad, control } = await provenUnderHalt(p, ['hand0', 'hand1']);
  try {
    await rollBackByHand(canary);
    // The running agent sees the hold file change and renders the target again: no SIGHUP needed.
    await waitFor(async () => (await report(p, 'hand0'))?.targets.app?.state === 'rolledback', 'the canary to report its rollback by hand', 30_000);
    const resume = await control('resume');
    assert.equal(resume.code, 0, resume.stderr);
    const halted = await haltedByHand(p, w1, canary);
    assert.ok(halted <= bad, `halted at ${halted}, after ${bad}`);
    const wait = await control('--wait-revision', String(bad), '--timeout', '60s');
    assert.equal(wait.code, 1, wait.stdout + wait.stderr);
    assert.match(wait.stderr, /^halted: app: revision \d+ halted in wave 0: hand0 rolled back by hand: /m);
    await neverTookBad(p, w1);
  } finally {
    await stopAll([canary, w1]);
  }
});

test('a canary rolled back by hand while its agent was down reports, once restarted, the revision it was rolled back from, and that revision halts', async () => {
  const p = uniquePrefix('wavedown');
  const started = await provenUnderHalt(p, ['down0', 'down1']);
  const { w1, control } = started;
  let canary = started.canary;
  try {
    const proven = (await report(p, 'down0'))?.targets.app?.revision ?? 0;
    // The operator stops the agent and rolls back; etcd moves on meanwhile (here an unrelated key), so the
    // restarted agent's first read is at a revision newer than the one it was rolled back from.
    await canary.agent.stop();
    await rollBackByHand(canary);
    assert.ok((await put(`${p}-elsewhere/x`, '1')) > proven);
    canary = { ...canary, agent: AgentProcess.start(canary.args) };
    const held = await waitFor(async () => {
      const t = (await report(p, 'down0'))?.targets.app;
      return t?.state === 'rolledback' ? t : undefined;
    }, 'the restarted canary to report its rollback by hand', 30_000);
    assert.equal(held.revision, proven, "the report names the revision rolled back from, not the restart's read");
    const resume = await control('resume');
    assert.equal(resume.code, 0, resume.stderr);
    assert.equal(await haltedByHand(p, w1, canary), proven);
    await neverTookBad(p, w1);
  } finally {
    await stopAll([canary, w1]);
  }
});

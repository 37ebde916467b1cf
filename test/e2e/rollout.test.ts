/**
 * Waves (src/rollout/): agents as processes in waves 0, 1 and 2 against a real etcd, with real verify and reload
 * commands. Each host's reloadcmd appends a time stamp and the file's contents to a history file, so that a test
 * can tell what each wave applied, in which order and when.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../support/cli';
import { sharedEtcd, uniquePrefix } from '../support/etcd';
import { rolloutHosts } from '../support/rollout';
import { waitFor } from '../support/util';

const shared = sharedEtcd();
const { startHost, applied, firstWith, put, report, stopAll } = rolloutHosts(shared);
const port = (): string => String(shared.etcd.clientPort);

test('a good change walks through waves 0, 1 and 2, each no sooner than bake after the wave before applied it', async () => {
  const p = uniquePrefix('waves');
  await put(`${p}/app/k`, '1');
  const hosts = [startHost(p, 'h0', 0), startHost(p, 'h1', 1), startHost(p, 'h2', 2)];
  try {
    // Start-up: the later waves wait for the wave before to prove what is there, and say so.
    await waitFor(async () => (await report(p, 'h1'))?.targets.app?.state === 'waiting', 'h1 to report that it waits', 30_000);
    assert.match((await report(p, 'h1'))!.targets.app.message!, /^waiting for wave 0 to prove/);
    assert.equal((await report(p, 'h1'))!.wave, 1);
    await waitFor(() => firstWith(hosts[2], '/app/k=1'), 'wave 2 to apply the first data', 60_000);
    const rev = await put(`${p}/app/k`, '2');
    const [a0, a1, a2] = await Promise.all(hosts.map((h) => waitFor(() => firstWith(h, '/app/k=2'), `${h.name} to apply k=2`, 60_000)));
    assert.ok(a1.ms - a0.ms >= 2000, `wave 1 applied ${a1.ms - a0.ms} ms after wave 0`);
    assert.ok(a2.ms - a1.ms >= 2000, `wave 2 applied ${a2.ms - a1.ms} ms after wave 1`);
    const done = await runCli(['fleet', '--port', port(), '--report', `${p}-fleet`, '--wait-revision', String(rev), '--timeout', '30s']);
    assert.equal(done.code, 0, done.stdout + done.stderr);
    // The view shows each host's wave and what each wave proved.
    const view = await runCli(['fleet', '--port', port(), '--report', `${p}-fleet`]);
    assert.equal(view.code, 0, view.stderr);
    assert.match(view.stdout, /^HOST +WAVE +TARGET +REVISION +STATE +AGE$/m);
    assert.match(view.stdout, /^h2 +2 +app +\d+ +ok/m);
    assert.match(view.stdout, /^ROLLOUT +WAVE +HOSTS +PROVEN +SINCE +REACHED$/m);
    assert.match(view.stdout, new RegExp(`^app +0 +1 +${rev} `, 'm'));
    assert.doesNotMatch(view.stdout, /not a fleet report/);
  } finally {
    await stopAll(hosts);
  }
});

test('a change that fails verify on the canary never reaches waves 1 and 2; the wait names the canary; a newer good change rolls out', async () => {
  const p = uniquePrefix('wavebad');
  await put(`${p}/app/k`, 'good1');
  const hosts = [startHost(p, 'canary', 0, { picky: true, bake: '1s' }), startHost(p, 'w1', 1, { bake: '1s' }), startHost(p, 'w2', 2, { bake: '1s' })];
  try {
    await waitFor(() => firstWith(hosts[2], '/app/k=good1'), 'wave 2 to apply the first data', 60_000);
    const bad = await put(`${p}/app/k`, 'bad');
    await waitFor(async () => (await report(p, 'canary'))?.targets.app?.state === 'rolledback', 'the canary to roll back', 30_000);
    const wait = await runCli(['fleet', '--port', port(), '--report', `${p}-fleet`, '--wait-revision', String(bad), '--timeout', '60s']);
    assert.equal(wait.code, 1, wait.stdout + wait.stderr);
    assert.match(wait.stderr, new RegExp(`^halted: app: revision ${bad} halted in wave 0: canary rolled back: `, 'm'));
    assert.ok(wait.ms < 30_000, `the wait ended at once, not at its time-out (${wait.ms} ms)`);
    await waitFor(async () => /^halted at \d+: canary rolled back/.test((await report(p, 'w1'))?.targets.app?.message ?? ''), 'w1 to report the halt', 30_000);
    // The sentinel: a newer good change goes all the way; only then is "never applied" proven.
    const good = await put(`${p}/app/k`, 'good2');
    await waitFor(() => firstWith(hosts[2], '/app/k=good2'), 'wave 2 to apply the newer good change', 60_000);
    for (const h of hosts.slice(1)) {
      assert.equal(firstWith(h, '/app/k=bad'), undefined, `${h.name} never applied the bad change`);
      assert.deepEqual(applied(h).map((a) => a.lines.join()), ['/app/k=good1', '/app/k=good2'], `${h.name} applied exactly the good changes`);
    }
    assert.ok(firstWith(hosts[0], '/app/k=bad'), 'the canary did try it');
    const ok = await runCli(['fleet', '--port', port(), '--report', `${p}-fleet`, '--wait-revision', String(good), '--timeout', '30s']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  } finally {
    await stopAll(hosts);
  }
});

test('newer data does not jump the queue: R2 put while wave 1 bakes R1; wave 2 applies R1 first, wave 1 R2 only after wave 0 proved it', async () => {
  const p = uniquePrefix('wavequeue');
  await put(`${p}/app/k`, 'r0');
  // Wave 0 applies each change 2 s late (`wait`), so that its proof of R2 comes clearly after wave 1's of R1.
  const hosts = [startHost(p, 'q0', 0, { bake: '3s', wait: '2s' }), startHost(p, 'q1', 1, { bake: '3s' }), startHost(p, 'q2', 2, { bake: '3s' })];
  try {
    await waitFor(() => firstWith(hosts[2], '/app/k=r0'), 'wave 2 to apply the first data', 60_000);
    await put(`${p}/app/k`, 'r1');
    await waitFor(() => firstWith(hosts[1], '/app/k=r1'), 'wave 1 to apply r1', 60_000);
    await put(`${p}/app/other`, 'r2');
    await waitFor(() => firstWith(hosts[2], '/app/other=r2'), 'wave 2 to apply r2', 90_000);
    for (const h of hosts.slice(1)) {
      assert.deepEqual(applied(h).map((a) => a.lines.join(' ')), ['/app/k=r0', '/app/k=r1', '/app/k=r1 /app/other=r2'], `${h.name}: R1 alone first, then R2`);
    }
    const w0 = firstWith(hosts[0], '/app/other=r2')!;
    const w1 = firstWith(hosts[1], '/app/other=r2')!;
    assert.ok(w1.ms - w0.ms >= 3000, `wave 1 took r2 ${w1.ms - w0.ms} ms after wave 0`);
  } finally {
    await stopAll(hosts);
  }
});

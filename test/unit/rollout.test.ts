/** The rollout's decisions (src/rollout/decide.ts) in fake time: what a wave proves, what halts, what a gate does. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AgentReport, TargetReport } from '../../src/agent/report';
import { OkClock, gate, prove, type HostView } from '../../src/rollout/decide';
import type { RolloutRecord } from '../../src/rollout/record';
import { isReportKey, rolloutKeyKind } from '../../src/rollout/record';

const ROLLOUT = { bakeMs: 2000, minhosts: 1 };

function host(name: string, wave: number, t: Partial<TargetReport>, modRevision = 0, rollout = ROLLOUT): HostView {
  const target: TargetReport = { revision: 0, state: 'ok', since: new Date(0).toISOString(), rollout, ...t };
  const report: AgentReport = { name, version: 'x', started: '', updated: '', wave, targets: { app: target } };
  return { report, modRevision };
}

/** Feeds the clock the hosts as they are at `now`, then proves. */
function at(now: number, hosts: HostView[], clock: OkClock, prev?: RolloutRecord): ReturnType<typeof prove> {
  for (const h of hosts) clock.observe(h.report.name, 'app', h.report.targets.app, now);
  return prove('app', hosts, clock, prev, now);
}

test('a wave proves a revision only after its last host has stayed ok at it for bake', () => {
  const clock = new OkClock();
  const a = (rev: number): HostView => host('a', 0, { revision: rev });
  const b = (rev: number, state: TargetReport['state'] = 'ok'): HostView => host('b', 0, { revision: rev, state });
  let p = at(0, [a(10), b(5)], clock);
  assert.equal(p?.record.waves['0'].proven?.revision, undefined, 'nothing baked yet');
  assert.equal(p?.nextCheck, 2000);
  p = at(2000, [a(10), b(5)], clock, p?.record);
  assert.equal(p?.record.waves['0'].proven?.revision, 5, 'the floor of the wave, baked');
  p = at(2500, [a(10), b(10)], clock, p?.record);
  assert.equal(p?.record.waves['0'].proven?.revision, 5, 'b reached 10 at 2500: not baked');
  assert.equal(p?.nextCheck, 4500);
  p = at(4499, [a(10), b(10)], clock, p?.record);
  assert.equal(p?.record.waves['0'].proven?.revision, 5);
  p = at(4500, [a(10), b(10)], clock, p?.record);
  assert.equal(p?.record.waves['0'].proven?.revision, 10);
  assert.equal(p?.record.waves['0'].proven?.since, new Date(4500).toISOString());
  assert.deepEqual({ hosts: p?.record.waves['0'].hosts, reached: p?.record.waves['0'].reached }, { hosts: 2, reached: 10 });
  // A host that fails breaks its clock; the proof already made stays (a proof never moves back).
  p = at(5000, [a(12), b(10, 'failed')], clock, p?.record);
  assert.equal(p?.record.waves['0'].proven?.revision, 10);
  p = at(9000, [a(12), b(12)], clock, p?.record);
  assert.equal(p?.record.waves['0'].proven?.revision, 10, 'b is ok again only from 9000');
  p = at(11000, [a(12), b(12)], clock, p?.record);
  assert.equal(p?.record.waves['0'].proven?.revision, 12);
});

test('fewer hosts than minhosts prove nothing; a host not ok (starting, held) blocks the proof', () => {
  const clock = new OkClock();
  const two = { bakeMs: 0, minhosts: 2 };
  let p = at(0, [host('a', 0, { revision: 7 }, 0, two)], clock);
  assert.equal(p?.record.waves['0'].proven, undefined);
  p = at(1, [host('a', 0, { revision: 7 }, 0, two), host('b', 0, { revision: 7, state: 'starting' }, 0, two)], clock);
  assert.equal(p?.record.waves['0'].proven, undefined);
  p = at(2, [host('a', 0, { revision: 7 }, 0, two), host('b', 0, { revision: 7 }, 0, two)], clock);
  assert.equal(p?.record.waves['0'].proven?.revision, 7);
  assert.equal(p?.record.minhosts, 2);
});

test('a rollback or a failed check in a wave halts its revision; the halt lifts once the wave proves a newer one', () => {
  const clock = new OkClock();
  let p = at(0, [host('canary', 0, { revision: 5 }), host('w1', 1, { revision: 3 })], clock);
  p = at(3000, [host('canary', 0, { revision: 5 }), host('w1', 1, { revision: 3 })], clock, p?.record);
  assert.equal(p?.record.waves['0'].proven?.revision, 5);
  p = at(4000, [host('canary', 0, { revision: 8, state: 'rolledback', stage: 'verify', message: 'verify `curl` exited 7' })], clock, p?.record);
  assert.deepEqual(
    { ...p?.record.halted, since: undefined },
    { revision: 8, wave: 0, host: 'canary', message: 'rolled back: verify `curl` exited 7', since: undefined },
  );
  // A failed check is placed at the revision of the report that told it.
  const failed = prove('app', [host('c2', 0, { revision: 5, state: 'failed', stage: 'check', message: 'exited 3' }, 9)], new OkClock(), undefined, 0);
  assert.equal(failed?.record.halted?.revision, 9);
  assert.equal(failed?.record.halted?.message, 'check failed: exited 3');
  // A canary that an operator rolled back by hand, away from 5 (told in the report written at 9), halts 5 to 9:
  // wave 0's earlier proof of 7 (it was ok at 5 and up before) no longer lets wave 1 go.
  const proven7: RolloutRecord = { target: 'app', bakeMs: 0, minhosts: 1, waves: { '0': { hosts: 1, reached: 7, proven: { revision: 7, since: '' } } } };
  const held = { revision: 5, state: 'rolledback', stage: 'rollback', message: 'held at version 2 by reconfig rollback' } as const;
  const byHand = prove('app', [host('c3', 0, held, 9)], new OkClock(), proven7, 0);
  assert.deepEqual({ ...byHand?.record.halted, since: undefined }, { revision: 9, from: 5, wave: 0, host: 'c3', message: 'rolled back by hand: held at version 2 by reconfig rollback', since: undefined });
  assert.equal(byHand?.record.waves['0'].proven?.revision, 7, 'the proof stays (a proof never moves back)');
  assert.deepEqual(gate({ wave: 1, record: byHand?.record, halted: false, loaded: 4 }), { kind: 'wait', message: 'halted at 5: c3 rolled back by hand: held at version 2 by reconfig rollback' });
  // Released by newer data, the canary is ok at 8: still halted (8 < 9) until a proof past the report that told it.
  const released = prove('app', [host('c3', 0, { revision: 8 }, 10)], new OkClock(), byHand?.record, 0);
  assert.equal(released?.record.halted?.revision, 9);
  assert.equal(gate({ wave: 1, record: released?.record, halted: false, loaded: 4 }).kind, 'wait');
  // Recovered on newer data: the halt stays until wave 0 proves past it.
  p = at(5000, [host('canary', 0, { revision: 9 })], clock, p?.record);
  assert.equal(p?.record.halted?.revision, 8, 'still halted while 9 bakes');
  p = at(7000, [host('canary', 0, { revision: 9 })], clock, p?.record);
  assert.equal(p?.record.waves['0'].proven?.revision, 9);
  assert.equal(p?.record.halted, undefined);
});

test('a coordinator that takes over keeps the proofs and starts its bake clocks afresh (late, never early)', () => {
  const first = new OkClock();
  let p = at(0, [host('a', 0, { revision: 5 })], first);
  p = at(2000, [host('a', 0, { revision: 6 })], first, p?.record);
  assert.equal(p?.record.waves['0'].proven?.revision, 5);
  const second = new OkClock();
  const q = at(2100, [host('a', 0, { revision: 6 })], second, p?.record);
  assert.equal(q?.record.waves['0'].proven?.revision, 5, 'kept');
  assert.equal(q?.nextCheck, 4100, 'the new clock starts at the takeover');
});

test('the gate: apply a proven or promoted revision, wait and say why otherwise; a halt wins over a promotion', () => {
  const rec = (proven: number | undefined, reached: number, halted?: RolloutRecord['halted']): RolloutRecord => ({
    target: 'app',
    ...ROLLOUT,
    waves: { '0': { hosts: 1, reached, ...(proven ? { proven: { revision: proven, since: '' } } : {}) } },
    ...(halted ? { halted } : {}),
  });
  assert.deepEqual(gate({ wave: 1, halted: false }), { kind: 'wait', message: 'waiting for wave 0 to prove a revision' });
  assert.deepEqual(gate({ wave: 1, record: rec(undefined, 12), halted: false }), { kind: 'wait', message: 'waiting for wave 0 to prove revision 12' });
  assert.deepEqual(gate({ wave: 1, record: rec(10, 12), halted: false }), { kind: 'apply', revision: 10 });
  assert.deepEqual(gate({ wave: 1, record: rec(10, 12), halted: false, loaded: 10 }), { kind: 'wait', message: 'waiting for wave 0 to prove revision 12' });
  assert.deepEqual(gate({ wave: 1, record: rec(12, 12), halted: false, loaded: 12 }), { kind: 'current' });
  assert.deepEqual(gate({ wave: 2, record: rec(12, 12), halted: false }), { kind: 'wait', message: 'waiting for wave 1 to prove a revision' });
  const stop = { revision: 14, wave: 0, host: 'canary', message: 'rolled back: exited 1', since: '' };
  assert.deepEqual(gate({ wave: 1, record: rec(12, 14, stop), halted: false, loaded: 12 }), { kind: 'wait', message: 'halted at 14: canary rolled back: exited 1' });
  assert.deepEqual(gate({ wave: 1, record: rec(12, 14, stop), halted: false, promotion: { revision: 15, at: '' }, loaded: 12 }), { kind: 'apply', revision: 15 });
  assert.equal(gate({ wave: 1, record: rec(12, 14), halted: true, promotion: { revision: 15, at: '' }, loaded: 12 }).kind, 'wait');
  assert.deepEqual(gate({ wave: 3, halted: false, promotion: { revision: 15, at: '' } }), { kind: 'apply', revision: 15 });
  assert.deepEqual(gate({ wave: 1, record: rec(10, 12), halted: false, compacted: 10 }), {
    kind: 'wait',
    message: 'revision 10 was compacted before this host could read it; waiting for wave 0 to prove a newer one',
  });
});

test('rollout keys: the record, a promotion and a halt per target; the election and the rollouts are no reports', () => {
  assert.deepEqual(rolloutKeyKind('/f', '/f/rollout/a%2Fb'), { target: 'a/b', kind: 'record' });
  assert.deepEqual(rolloutKeyKind('/f', '/f/rollout/app/halt'), { target: 'app', kind: 'halt' });
  assert.deepEqual(rolloutKeyKind('/f', '/f/rollout/app/promote'), { target: 'app', kind: 'promote' });
  assert.equal(rolloutKeyKind('/f', '/f/rollout/app/other'), undefined);
  assert.equal(isReportKey('/f', '/f/lb-01'), true);
  assert.equal(isReportKey('/f', '/f/rollout/app'), false);
  assert.equal(isReportKey('/f', '/f/rollout-election/coordinator/694d7'), false);
});

test('a wave whose hosts are all gone stays in the record with none; the next wave says it waits for it', () => {
  const clock = new OkClock();
  let p = at(0, [host('a', 0, { revision: 5 }), host('b', 1, { revision: 5 })], clock);
  p = at(3000, [host('b', 1, { revision: 5 })], clock, p?.record);
  assert.equal(p?.record.waves['0'].hosts, 0);
  const d = gate({ wave: 1, record: p?.record, halted: false, loaded: 5 });
  assert.equal(d.kind, 'wait');
  assert.match((d as { message: string }).message, /^waiting for wave 0, which has 0 live host\(s\) of the 1 it needs .*reconfig fleet promote/);
  assert.deepEqual(gate({ wave: 1, record: p?.record, halted: false, loaded: 5, promotion: { revision: 9, at: '' } }), { kind: 'apply', revision: 9 });
});

test('a later-wave host that waits for newer data counts as ok at the revision it holds (five canaries at different watch revisions)', () => {
  // The canaries hold the same data but report different revisions (each its own watch's); wave 1 took the
  // proven one, and waits for the wave to reach more. Its wave must still prove what it holds, or wave 2 starves.
  const clock = new OkClock();
  const fleet = (): HostView[] => [
    host('c1', 0, { revision: 50 }),
    host('c2', 0, { revision: 80 }),
    host('w1', 1, { revision: 50, state: 'waiting', message: 'waiting for wave 0 to prove revision 80' }),
  ];
  let p = at(0, fleet(), clock);
  p = at(2000, fleet(), clock, p?.record);
  assert.equal(p?.record.waves['0'].reached, 50);
  assert.equal(p?.record.waves['1'].proven?.revision, 50);
  assert.deepEqual(gate({ wave: 1, record: p?.record, halted: false, loaded: 50 }), { kind: 'current' }, 'wave 0 reached no more than 50');
});

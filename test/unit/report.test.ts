/** The fleet report's logic: the revision each target has taken, at most one write a second, none after close. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { FleetReporter, type AgentReport } from '../../src/agent/report';
import { memoryLogger } from '../support/fake-target';
import { settle } from '../support/turns';

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'] }));
afterEach(() => mock.timers.reset());

function reporter(fail?: () => boolean) {
  const writes: AgentReport[] = [];
  const { log, lines } = memoryLogger();
  const r = new FleetReporter(
    (json) => (fail?.() ? Promise.reject(new Error('etcdserver: permission denied')) : Promise.resolve(void writes.push(JSON.parse(json) as AgentReport))),
    { name: 'h1', version: '9.9.9' },
    ['a', 'b'],
    log,
  );
  return { r, writes, lines };
}

test('a target reports the watch revision while applied and idle, its applied revision while pending or failed', async () => {
  const { r, writes } = reporter();
  r.synced({ revision: 10, after: 'start', how: 'snapshot', keys: 2 });
  r.applied('a', true, 10, 'a=1\n');
  r.applied('b', true, 10, 'b=1\n');
  r.pending('b');
  r.events(1, 12);
  mock.timers.tick(1000);
  await settle();
  const last = writes.at(-1)!;
  assert.equal(last.targets.a.revision, 12, 'a is idle and ok: every change up to 12 is in its file');
  assert.equal(last.targets.b.revision, 10, 'b has a change pending: only 10');
  assert.equal(last.targets.a.sha256, createHash('sha256').update('a=1\n').digest('hex'));
  r.failed('b', 'check', 'checkcmd exited 3');
  r.events(0, 13);
  mock.timers.tick(1000);
  await settle();
  const after = writes.at(-1)!;
  assert.deepEqual([after.targets.b.state, after.targets.b.stage, after.targets.b.revision], ['failed', 'check', 10]);
  assert.equal(after.targets.a.revision, 13);
  assert.ok(!JSON.stringify(writes).includes('a=1'), 'no file content in a report');
});

test('a target held at an older version by reconfig rollback reports rolledback at stage rollback, away from its revision', async () => {
  const { r, writes } = reporter();
  r.synced({ revision: 10, after: 'start', how: 'snapshot', keys: 2 });
  r.applied('a', true, 10, 'a=2\n');
  r.applied('b', true, 10, 'b=1\n');
  mock.timers.tick(1000);
  await settle();
  assert.equal(writes.at(-1)!.targets.a.state, 'ok');
  // The next render of the same data finds the hold: the files are version 3's, not revision 10's render.
  r.events(1, 11);
  r.applied('a', false, 11, 'a=1\n', 'held at version 3 by reconfig rollback (since x) until its data changes');
  mock.timers.tick(1000);
  await settle();
  const held = writes.at(-1)!.targets.a;
  assert.deepEqual([held.state, held.stage, held.revision], ['rolledback', 'rollback', 10], 'away from the data applied at 10, not the render at 11');
  assert.equal(held.message, 'held at version 3 by reconfig rollback (since x) until its data changes');
  assert.equal(held.sha256, createHash('sha256').update('a=1\n').digest('hex'), 'the digest of the held files');
  // New data releases the hold: ok again, at the watch revision.
  r.applied('a', true, 12, 'a=3\n');
  r.events(1, 12);
  mock.timers.tick(1000);
  await settle();
  assert.deepEqual([writes.at(-1)!.targets.a.state, writes.at(-1)!.targets.a.revision], ['ok', 12]);
});

test('at most one write a second however many changes; none after close, even for an apply that ends later', async () => {
  const { r, writes } = reporter();
  mock.timers.tick(1000);
  await settle();
  const base = writes.length;
  for (let i = 0; i < 50; i++) {
    r.applied('a', true, 20 + i, `v${i}`);
    mock.timers.tick(100);
    await settle();
  }
  assert.ok(writes.length - base <= 6, `${writes.length - base} writes in 5 s`);
  assert.ok(writes.length - base >= 4);
  await r.close();
  const closed = writes.length;
  r.applied('a', true, 99, 'late');
  mock.timers.tick(5000);
  await settle();
  assert.equal(writes.length, closed, 'a closed reporter writes nothing');
});

test('a refused write is logged once, retried each second, and the recovery is logged', async () => {
  let refuse = true;
  const { r, writes, lines } = reporter(() => refuse);
  for (let i = 0; i < 5; i++) {
    mock.timers.tick(1000);
    await settle();
  }
  assert.equal(lines.filter((l) => /fleet report not written \(applies go on\): etcdserver: permission denied/.test(l.msg)).length, 1);
  assert.equal(writes.length, 0);
  refuse = false;
  mock.timers.tick(1000);
  await settle();
  assert.equal(writes.length, 1, 'written once the refusal ends');
  assert.ok(lines.some((l) => l.msg === 'fleet report written again'));
  await r.close();
});

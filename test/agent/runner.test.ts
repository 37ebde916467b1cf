/** The target runner's logic, without etcd: data in, applies out. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { TargetRunner } from '../../src/agent/runner';
import { fakeTarget, memoryLogger } from '../support/fake-target';

test('a bug inside an apply is an internal error with its stack, not a failed render', async () => {
  const { log, lines } = memoryLogger();
  // A render that breaks its contract (no string) makes the apply itself throw a TypeError.
  const t = fakeTarget('bug', { render: () => 42 as unknown as string });
  const runner = new TargetRunner(t, { prefix: '', notreally: false, log, print: () => undefined }, { manual: true });
  runner.load([{ key: '/bug/a', value: '1' }], 5);
  const out = await runner.applyNow();
  assert.equal(out.ok, false);
  assert.equal(out.error?.stage, 'internal');
  const line = lines.find((l) => l.stage === 'internal');
  assert.equal(line?.level, 'fatal');
  assert.match(String((line?.err as { stack?: string } | undefined)?.stack), /TypeError/);
  assert.equal(lines.filter((l) => l.stage === 'render').length, 0);
});

test('a value with a control character fails the render; the next good value applies', async () => {
  const { log, lines } = memoryLogger();
  const t = fakeTarget('ctl');
  const runner = new TargetRunner(t, { prefix: '', notreally: false, log, print: () => undefined }, { manual: true });
  runner.load([{ key: '/ctl/a', value: 'x\ny' }], 5);
  const bad = await runner.applyNow();
  assert.equal(bad.error?.stage, 'render');
  assert.match(String(lines.find((l) => l.stage === 'render')?.err), /key \/ctl\/a: the value holds a control character, U\+000A/);
  runner.update([{ type: 'put', key: '/ctl/a', value: 'xy', revision: 6 }], 6);
  const good = await runner.applyNow();
  assert.equal(good.ok, true);
  assert.equal(readFileSync(t.dest, 'utf8'), '/ctl/a=xy\n');
  await runner.stop();
});

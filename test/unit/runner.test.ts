/** The target runner's logic, without etcd: data in, applies out. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mock, test } from 'node:test';
import { noObserver } from '../../src/agent/observer';
import { TargetRunner } from '../../src/agent/runner';
import { fakeTarget, memoryLogger } from '../support/fake-target';
import { settle, until } from '../support/turns';

test('a bug inside an apply is an internal error with its stack, not a failed render', async () => {
  const { log, lines } = memoryLogger();
  // A render that breaks its contract (no string) makes the apply itself throw a TypeError.
  const t = fakeTarget('bug', { render: () => 42 as unknown as string });
  const runner = new TargetRunner(t, { prefix: '', notreally: false, log, print: () => undefined, observer: noObserver }, { manual: true });
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
  const runner = new TargetRunner(t, { prefix: '', notreally: false, log, print: () => undefined, observer: noObserver }, { manual: true });
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

const read = (file: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};

/** A runner on a fake target whose renders are counted; `during(n)` runs inside the n-th render (an apply in flight). */
function counted(over: Parameters<typeof fakeTarget>[1] = {}, needs: string[] = [], during: (n: number) => void = () => undefined, now?: () => number) {
  const { log, lines } = memoryLogger();
  let renders = 0;
  const t = fakeTarget('st', {
    ...over,
    render: (data) => {
      renders += 1;
      during(renders);
      return Object.entries(data).map(([k, v]) => `${k}=${v}\n`).join('');
    },
  });
  const stop = new AbortController();
  const runner = new TargetRunner(t, { prefix: '', notreally: false, log, print: () => undefined, observer: noObserver, now }, { signal: stop.signal, needs });
  return { t, runner, lines, stop, renders: () => renders };
}

test('a runner waits for every input: a Docker target applies only once its containers are listed', async () => {
  const { t, runner, renders } = counted({}, ['containers']);
  runner.load([{ key: '/st/a', value: '1' }], 3);
  await settle();
  assert.equal(renders(), 0, 'etcd alone is not enough');
  assert.equal(runner.busy, false);
  runner.provide('containers', []);
  await until(() => read(t.dest) === '/st/a=1\n', 'the first apply');
  assert.equal(renders(), 1);
  await runner.stop();
});

test('changes during an apply make exactly one more apply, which ends in the final state', async () => {
  // Three more changes arrive while the second apply is rendering: it is in flight, for certain.
  const put = (i: number): void => runner.update([{ type: 'put', key: '/st/a', value: String(i), revision: 1 + i }], 1 + i);
  const { t, runner, renders } = counted({}, [], (n) => {
    if (n === 2) for (let i = 4; i <= 6; i++) put(i);
  });
  runner.load([{ key: '/st/a', value: '0' }], 1);
  await until(() => !runner.busy && renders() === 1, 'the first apply');
  // Three changes in one turn: one apply.
  for (let i = 1; i <= 3; i++) put(i);
  await until(() => !runner.busy, 'the runner to settle');
  assert.equal(readFileSync(t.dest, 'utf8'), '/st/a=6\n');
  assert.equal(renders(), 3, 'the first apply, one for the three changes, exactly one more for the three made during it');
  // Events at or below the revision held are ignored.
  runner.update([{ type: 'put', key: '/st/a', value: 'old', revision: 5 }], 7);
  await settle();
  assert.equal(runner.busy, false);
  await runner.stop();
});

test('stop during a long wait ends the pause at once and applies nothing more', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const { t, runner, renders, stop } = counted({ wait: { minMs: 60_000, maxMs: 240_000 } });
    runner.load([{ key: '/st/a', value: '1' }], 1);
    await until(() => renders() === 1 && !runner.busy, 'the first apply, which does not wait');
    runner.update([{ type: 'put', key: '/st/a', value: '2', revision: 2 }], 2);
    await settle();
    assert.equal(runner.busy, true, 'waiting for a minute of quiet');
    stop.abort();
    await runner.stop();
    assert.equal(runner.busy, false);
    assert.equal(renders(), 1);
    assert.equal(readFileSync(t.dest, 'utf8'), '/st/a=1\n');
    runner.update([{ type: 'put', key: '/st/a', value: '3', revision: 3 }], 3);
    await settle();
    assert.equal(runner.busy, false, 'a stopped runner schedules nothing');
  } finally {
    mock.timers.reset();
  }
});

test("the runner's pacing reads the clock it is given: a wait {min 1 s, max 4 s} applies after exactly 1 s of quiet, fake time", async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  try {
    const { t, runner, renders } = counted({ wait: { minMs: 1000, maxMs: 4000 } }, [], undefined, () => Date.now());
    runner.load([{ key: '/st/a', value: '1' }], 1);
    await until(() => renders() === 1 && !runner.busy, 'the first apply, which does not wait');
    runner.update([{ type: 'put', key: '/st/a', value: '2', revision: 2 }], 2);
    await settle();
    mock.timers.tick(600);
    // A second change 600 ms in: quiet is measured from it.
    runner.update([{ type: 'put', key: '/st/a', value: '3', revision: 3 }], 3);
    await settle();
    mock.timers.tick(999);
    await settle();
    assert.equal(renders(), 1, 'not before 1 s of quiet after the last change');
    mock.timers.tick(1);
    await until(() => renders() === 2 && !runner.busy, 'the debounced apply');
    assert.equal(readFileSync(t.dest, 'utf8'), '/st/a=3\n');
    await runner.stop();
  } finally {
    mock.timers.reset();
  }
});

test('a failed plugin is retried on its own, without a change in etcd', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let fail = true;
    const plugin = { path: '/test/plugin.js', get: () => (fail ? Promise.reject(new Error('registry down')) : { n: 1 }) };
    const { t, runner, lines } = counted({ plugin });
    runner.load([{ key: '/st/a', value: '1' }], 1);
    await until(() => lines.some((l) => l.stage === 'render' && /registry down/.test(String(l.err))), 'the plugin failure');
    assert.equal(read(t.dest), '', 'nothing written while the plugin fails');
    fail = false;
    await until(() => !runner.busy, 'settled');
    mock.timers.tick(5000);
    await until(() => read(t.dest) === '/st/a=1\n', 'the retry');
    await runner.stop();
  } finally {
    mock.timers.reset();
  }
});

test('a resumed watch replays events the runner has: those at or below what it holds are ignored, so no older value comes back', async () => {
  const { log } = memoryLogger();
  const t = fakeTarget('rp');
  const runner = new TargetRunner(t, { prefix: '', notreally: false, log, print: () => undefined, observer: noObserver }, { manual: true });
  runner.load([{ key: '/rp/a', value: 'new' }], 10);
  // The resume point (8) lags this runner's own newest event (12): another watcher of the stream is behind.
  runner.update([{ type: 'put', key: '/rp/b', value: 'b12', revision: 12 }], 8);
  // The watch resumes from 9 and replays in two batches: first a put of /rp/a older than the snapshot and a
  // delete before the event at 12. Were they taken, the file would go back in time between the batches.
  runner.update(
    [
      { type: 'put', key: '/rp/a', value: 'old', revision: 9 },
      { type: 'delete', key: '/rp/b', value: '', revision: 11 },
    ],
    11,
  );
  assert.equal((await runner.applyNow()).ok, true);
  assert.equal(readFileSync(t.dest, 'utf8'), '/rp/a=new\n/rp/b=b12\n');
  runner.update(
    [
      { type: 'put', key: '/rp/b', value: 'b12', revision: 12 },
      { type: 'put', key: '/rp/c', value: 'c13', revision: 13 },
    ],
    13,
  );
  assert.equal((await runner.applyNow()).ok, true);
  assert.equal(readFileSync(t.dest, 'utf8'), '/rp/a=new\n/rp/b=b12\n/rp/c=c13\n');
  await runner.stop();
});

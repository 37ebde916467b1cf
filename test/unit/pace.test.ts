/** Pacer: when a runner may apply. A fake clock and mock timers: seconds of pacing in milliseconds. */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { Pacer } from '../../src/agent/pace';
import { settle } from '../support/turns';

let now = 0;
const clock = (): number => now;
/** Advances the fake clock and the mocked setTimeout together. */
const advance = (ms: number): void => {
  now += ms;
  mock.timers.tick(ms);
};

beforeEach(() => {
  now = 1000;
  mock.timers.enable({ apis: ['setTimeout'] });
});
afterEach(() => mock.timers.reset());

/** Starts beforeApply and reports whether it has resolved. */
function begin(p: Pacer, signal?: AbortSignal): { done: () => boolean } {
  let done = false;
  void p.beforeApply(signal).then(() => (done = true));
  return { done: () => done };
}

test('a lone change applies at once, however soon after the last apply', async () => {
  const p = new Pacer(undefined, { now: clock });
  p.applied();
  advance(1);
  p.changed(1);
  const a = begin(p);
  await settle();
  assert.ok(a.done());
});

test('a burst is paced: 5 ms, then doubling to 50 ms between applies, until 100 ms pass quietly', async () => {
  const p = new Pacer(undefined, { now: clock });
  const gaps: number[] = [];
  for (let i = 0; i < 6; i++) {
    p.applied();
    p.changed(3);
    const a = begin(p);
    let waited = 0;
    await settle();
    while (!a.done()) {
      advance(1);
      waited += 1;
      await settle(2);
      assert.ok(waited <= 60, 'never longer than 50 ms');
    }
    gaps.push(waited);
  }
  assert.deepEqual(gaps, [5, 10, 20, 40, 50, 50]);
  // Quiet for more than 100 ms: the burst is over, and the next change applies at once.
  p.applied();
  advance(101);
  p.changed(5);
  const a = begin(p);
  await settle();
  assert.ok(a.done());
});

test('wait {min, max}: applies once quiet for min, and no later than max after the first change', async () => {
  const p = new Pacer({ minMs: 400, maxMs: 1200 }, { now: clock });
  p.changed(1);
  const a = begin(p);
  advance(399);
  await settle();
  assert.ok(!a.done(), 'not before min of quiet');
  advance(1);
  await settle();
  assert.ok(a.done(), 'at min of quiet');
  // A change every 300 ms is never quiet for 400 ms: max applies 1200 ms after the first.
  p.changed(1);
  const b = begin(p);
  for (let t = 300; t < 1200; t += 300) {
    advance(300);
    p.changed(1);
    await settle();
    assert.ok(!b.done(), `still waiting at ${t} ms`);
  }
  advance(300);
  await settle();
  assert.ok(b.done(), 'at max');
});

test('the stop signal ends a pause at once', async () => {
  const p = new Pacer({ minMs: 10_000, maxMs: 60_000 }, { now: clock });
  const stop = new AbortController();
  p.changed(1);
  const a = begin(p, stop.signal);
  await settle();
  assert.ok(!a.done());
  stop.abort();
  await settle();
  assert.ok(a.done());
});

test('splay: after the wait, a random delay up to splay; the first snapshot does not splay', async () => {
  const p = new Pacer({ minMs: 100, maxMs: 400 }, { now: clock, splayMs: 2000, random: () => 0.75 });
  p.changed(3, false);
  const first = begin(p);
  await settle();
  assert.ok(first.done(), 'the first snapshot applies at once');
  p.applied();
  p.changed(1);
  const a = begin(p);
  advance(100);
  await settle();
  assert.ok(!a.done(), 'the wait is over; the splay (0.75 x 2 s) is not');
  advance(1499);
  await settle();
  assert.ok(!a.done());
  advance(1);
  await settle();
  assert.ok(a.done(), 'at wait + 1.5 s');
});

test('splay without a wait: a lone change is delayed by its draw', async () => {
  const draws = [0, 0.5];
  const p = new Pacer(undefined, { now: clock, splayMs: 10_000, random: () => draws.shift() ?? 1 });
  p.changed(1);
  const a = begin(p);
  await settle();
  assert.ok(a.done(), 'a draw of 0 applies at once');
  p.applied();
  advance(1000);
  p.changed(1);
  const b = begin(p);
  await settle();
  advance(4999);
  await settle();
  assert.ok(!b.done());
  advance(1);
  await settle();
  assert.ok(b.done(), 'a draw of 0.5 waits 5 s');
});

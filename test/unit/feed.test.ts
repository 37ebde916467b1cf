/** Feed: snapshot, watch, and starting again after every break, on the in-memory store with mock timers. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { Feed } from '../../src/agent/feed';
import { TargetRunner } from '../../src/agent/runner';
import { fakeTarget, memoryLogger } from '../support/fake-target';
import { MemoryStore } from '../support/memory-store';
import { settle, until } from '../support/turns';

beforeEach(() => {
  mock.timers.enable({ apis: ['setTimeout'] });
  // The backoff's jitter draws from Math.random: take the whole interval.
  mock.method(Math, 'random', () => 1);
});
afterEach(() => {
  mock.timers.reset();
  mock.restoreAll();
});

const read = (file: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};

function setUp(resyncMs?: number) {
  const store = new MemoryStore();
  const { log, lines } = memoryLogger();
  const target = fakeTarget('app');
  const runner = new TargetRunner(target, { prefix: '', notreally: false, log, print: () => undefined });
  let synced = 0;
  const feed = new Feed(store, [runner], log, { resyncMs, onFirstSync: () => (synced += 1) });
  return { store, lines, target, runner, feed, synced: () => synced };
}

test('the first snapshot applies, then every change; a break re-reads, so a change made meanwhile is not lost', async () => {
  const { store, lines, target, runner, feed, synced } = setUp();
  store.put('/app/a', '1');
  store.put('/other/x', 'not mine');
  feed.start();
  await until(() => read(target.dest) === '/app/a=1\n', 'the first snapshot');
  assert.equal(synced(), 1);
  store.put('/app/b', '2');
  await until(() => read(target.dest) === '/app/a=1\n/app/b=2\n', 'a watched change');
  store.breakWatches();
  // While the feed backs off, etcd moves on: a put and a delete the broken watch never delivered.
  store.put('/app/c', '3');
  store.delete('/app/a');
  await settle();
  assert.equal(store.openWatches, 0);
  mock.timers.tick(100);
  // The runner paces the re-read like any change after a recent apply: let mocked time run while waiting.
  await until(() => read(target.dest) === '/app/b=2\n/app/c=3\n', 'the state after the break', 20_000, () => mock.timers.tick(1));
  assert.equal(store.snapshots, 2);
  assert.equal(lines.filter((l) => l.msg === 'disconnected from etcd; retrying').length, 1);
  assert.equal(lines.filter((l) => /^reconnected; resynced at revision \d+$/.test(l.msg)).length, 1);
  await feed.stop();
  await runner.stop();
});

test('while etcd is down the backoff doubles from 100 ms to 5 s, and the outage is logged once', async () => {
  const { store, lines, target, runner, feed } = setUp();
  store.put('/app/a', '1');
  feed.start();
  await until(() => read(target.dest) === '/app/a=1\n', 'the first snapshot');
  store.down = true;
  store.breakWatches();
  await settle();
  const attempts: number[] = [];
  let elapsed = 0;
  let seen = store.snapshots;
  while (elapsed < 25_000) {
    mock.timers.tick(50);
    elapsed += 50;
    await settle(5);
    if (store.snapshots !== seen) {
      seen = store.snapshots;
      attempts.push(elapsed);
    }
  }
  const gaps = attempts.map((t, i) => t - (i ? attempts[i - 1] : 0));
  assert.deepEqual(gaps.slice(0, 8), [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  assert.equal(lines.filter((l) => l.level === 'warn' && /etcd; retrying$/.test(l.msg)).length, 1, 'one warning for the outage');
  assert.ok(lines.filter((l) => l.msg === 'still disconnected').length >= 7);
  store.down = false;
  store.put('/app/b', '2');
  mock.timers.tick(5000);
  await until(() => read(target.dest) === '/app/a=1\n/app/b=2\n', 'the state after the outage', 20_000, () => mock.timers.tick(1));
  await feed.stop();
  await runner.stop();
});

test('the periodic resync takes a fresh snapshot while the watch is fine, jittered by up to 10%', async () => {
  const { store, lines, target, runner, feed } = setUp(60_000);
  store.put('/app/a', '1');
  feed.start();
  await until(() => read(target.dest) === '/app/a=1\n', 'the first snapshot');
  assert.equal(store.snapshots, 1);
  // Math.random gives 1 here: the resync comes at 110% of the interval, not before.
  mock.timers.tick(65_999);
  await settle();
  assert.equal(store.snapshots, 1, 'not before 66 s');
  mock.timers.tick(1);
  await until(() => store.snapshots === 2, 'the resync');
  await until(() => lines.some((l) => /^resynced at revision \d+$/.test(l.msg)), 'its log line');
  assert.equal(store.watchesCreated, 2);
  await feed.stop();
  await runner.stop();
});

test('a watch from a compacted revision breaks, and the feed recovers from a fresh snapshot', async () => {
  const { store, target, runner, feed } = setUp();
  store.put('/app/a', '1');
  // The first watch will start at revision 3; make etcd forget revision 3 before it is created.
  const realWatch = store.watch.bind(store);
  let first = true;
  store.watch = async (specs, from, handlers) => {
    if (first) {
      first = false;
      store.put('/app/b', '2');
      store.compact();
    }
    return realWatch(specs, from, handlers);
  };
  feed.start();
  await until(() => store.snapshots === 1 && store.watchesCreated === 1, 'the first watch');
  mock.timers.tick(100);
  await until(() => read(target.dest) === '/app/a=1\n/app/b=2\n', 'the compacted change, from the second snapshot', 20_000, () => mock.timers.tick(1));
  assert.equal(store.snapshots, 2);
  await feed.stop();
  await runner.stop();
});

/** Feed: snapshot, watch, and starting again after every break, on the in-memory store with mock timers. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { Feed } from '../../src/agent/feed';
import { noObserver } from '../../src/agent/observer';
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
  const runner = new TargetRunner(target, { prefix: '', notreally: false, log, print: () => undefined, observer: noObserver });
  let synced = 0;
  const feed = new Feed(store, [runner], log, { resyncMs, observer: { ...noObserver, synced: () => (synced += 1) } });
  return { store, lines, target, runner, feed, synced: () => synced };
}

/** setUp() with /app/a=1 in the store, the feed started, and the first snapshot applied. */
async function running(resyncMs?: number) {
  const t = setUp(resyncMs);
  t.store.put('/app/a', '1');
  t.feed.start();
  await until(() => read(t.target.dest) === '/app/a=1\n', 'the first snapshot');
  return t;
}

test('the first snapshot applies, then every change; a break resumes the watch, so a change made meanwhile arrives and nothing is re-read', async () => {
  const { store, lines, target, runner, feed, synced } = setUp();
  store.put('/app/a', '1');
  store.put('/other/x', 'not mine');
  feed.start();
  await until(() => read(target.dest) === '/app/a=1\n', 'the first snapshot');
  assert.equal(synced(), 1);
  store.put('/app/b', '2');
  await until(() => read(target.dest) === '/app/a=1\n/app/b=2\n', 'a watched change');
  const held = store.revision;
  store.breakWatches();
  // While the feed backs off, etcd moves on: a put and a delete the broken watch never delivered.
  store.put('/app/c', '3');
  store.delete('/app/a');
  await settle();
  assert.equal(store.openWatches, 0);
  mock.timers.tick(100);
  // The runner paces the replay like any change after a recent apply: let mocked time run while waiting.
  await until(() => read(target.dest) === '/app/b=2\n/app/c=3\n', 'the state after the break', 20_000, () => mock.timers.tick(1));
  assert.deepEqual(store.watchedFrom.slice(1), [held + 1], 'the watch resumed right after the last revision delivered');
  assert.equal(store.snapshots, 1, 'no second snapshot');
  assert.equal(store.keysRead, 1, 'the one key of the first snapshot, and no more');
  assert.equal(lines.filter((l) => l.msg === 'disconnected from etcd; retrying').length, 1);
  assert.equal(lines.filter((l) => l.msg === `reconnected; resumed the watch from revision ${held + 1}, reading nothing again`).length, 1);
  await feed.stop();
  await runner.stop();
});

test('while etcd is down the backoff doubles from 100 ms to 5 s, and the outage is logged once', async () => {
  const { store, lines, target, runner, feed } = await running();
  store.down = true;
  store.breakWatches();
  await settle();
  const attempts: number[] = [];
  let elapsed = 0;
  // Each attempt to resume begins by asking etcd where it stands.
  let seen = store.heads;
  while (elapsed < 25_000) {
    mock.timers.tick(50);
    elapsed += 50;
    await settle(5);
    if (store.heads !== seen) {
      seen = store.heads;
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
  assert.equal(store.snapshots, 1, 'resumed, not re-read');
  await feed.stop();
  await runner.stop();
});

test('the periodic resync takes a fresh snapshot while the watch is fine, jittered by up to 10%', async () => {
  const { store, lines, runner, feed } = await running(60_000);
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
      // etcd keeps the compaction revision itself: compact past 3.
      store.put('/other/x', 'y');
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

test('compacted while the feed was away: the resumed watch is cancelled, and the feed reads a fresh snapshot', async () => {
  const { store, lines, target, runner, feed } = await running();
  store.down = true;
  store.breakWatches();
  store.put('/app/b', '2');
  store.put('/app/b', '3');
  store.compact();
  await settle();
  store.down = false;
  mock.timers.tick(100);
  await until(() => read(target.dest) === '/app/a=1\n/app/b=3\n', 'the state after the compaction', 20_000, () => mock.timers.tick(1));
  assert.equal(store.snapshots, 2);
  await until(() => lines.some((l) => /^resynced at revision \d+$/.test(l.msg)), 'the resync logged');
  const told = lines.map((l) => l.msg.replace(/\d+/g, 'N')).filter((m) => /etcd|resumed|resynced/.test(m));
  assert.deepEqual(told.slice(-4), [
    'disconnected from etcd; retrying',
    'reconnected; resumed the watch from revision N, reading nothing again',
    'etcd cancelled the watch; reading a fresh snapshot',
    'resynced at revision N',
  ]);
  await feed.stop();
  await runner.stop();
});

for (const sameCluster of [false, true]) {
  test(`etcd restored from an older backup${sameCluster ? ' (same cluster ID, revision gone back)' : ' (new cluster ID)'}: the feed reads afresh instead of resuming`, async () => {
    const { store, lines, target, runner, feed } = setUp();
    store.put('/app/a', '1');
    const backup = store.revision;
    feed.start();
    await until(() => read(target.dest) === '/app/a=1\n', 'the first snapshot');
    store.put('/app/b', '2');
    await until(() => read(target.dest) === '/app/a=1\n/app/b=2\n', 'a change made after the backup');
    store.restore(backup, sameCluster);
    if (!sameCluster) {
      // Writes after the restore carry the revision past the one the feed holds: only the cluster ID tells.
      store.put('/app/c', '3');
      store.put('/other/x', '4');
    }
    mock.timers.tick(100);
    const want = sameCluster ? '/app/a=1\n' : '/app/a=1\n/app/c=3\n';
    await until(() => read(target.dest) === want, 'the restored state', 20_000, () => mock.timers.tick(1));
    assert.equal(store.snapshots, 2);
    const warned = sameCluster ? /^etcd's revision went back from \d+ to \d+ \(restored from a backup\?\); reading a fresh snapshot$/ : /^etcd is another cluster now/;
    assert.ok(lines.some((l) => warned.test(l.msg)), 'the reason is logged');
    await feed.stop();
    await runner.stop();
  });
}

test('progress notifications move the resume point on while the target is quiet, so a later compaction does not force a re-read', async () => {
  const { store, target, runner, feed } = await running();
  for (let i = 0; i < 5; i++) store.put('/other/x', String(i));
  const quiet = store.revision;
  store.progress();
  await settle();
  store.breakWatches();
  store.compact();
  await until(() => store.watchedFrom.length === 2, 'the resumed watch', 20_000, () => mock.timers.tick(1));
  store.put('/app/a', '2');
  await until(() => read(target.dest) === '/app/a=2\n', 'the next change', 20_000, () => mock.timers.tick(1));
  assert.deepEqual(store.watchedFrom.slice(1), [quiet + 1], 'resumed from the revision the notification gave + 1');
  assert.equal(store.snapshots, 1);
  await feed.stop();
  await runner.stop();
});

test('a new set of runners (SIGHUP) is read afresh', async () => {
  const { store, runner, feed } = await running();
  feed.replace([runner]);
  await until(() => store.snapshots === 2, 'a second snapshot', 20_000, () => mock.timers.tick(1));
  assert.equal(store.heads, 0, 'no resume was tried');
  await feed.stop();
  await runner.stop();
});

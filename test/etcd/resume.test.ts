/**
 * What a resumed watch relies on, against a real etcd: the resume point the store reports is what its watchers
 * have provably delivered (events, progress notifications), never a response header; a compacted revision is a
 * cancel the caller can tell apart; head() names the cluster and its revision.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EtcdStore } from '../../src/etcd/client';
import { WatchCancelledError, type WatchEvent } from '../../src/etcd/store';
import { at, EtcdServer, metricSum, sharedEtcd, uniquePrefix } from '../support/etcd';
import { waitFor } from '../support/util';

const shared = sharedEtcd();

const put = async (key: string, value: string): Promise<number> =>
  Number((await shared.client.put(key).value(value).exec()).header.revision);

test('with two watchers, the resume point is the smaller of what each has delivered', async () => {
  const p = uniquePrefix('points');
  const store = new EtcdStore(at(shared.etcd.url));
  // Far apart, so not merged: two watchers on the one stream.
  const specs = [{ key: `${p}/a`, recursive: true }, { key: `${p}/z`, recursive: true }];
  const snap = await store.snapshot(specs);
  const calls: Array<{ keys: string[]; point: number }> = [];
  const h = await store.watch(specs, snap.revision + 1, {
    onEvents: (events, point) => calls.push({ keys: events.map((e) => e.key.slice(p.length)), point }),
    onBroken: (err) => assert.fail(err),
  });
  try {
    const a1 = await put(`${p}/a/1`, 'x');
    await waitFor(() => calls.length === 1, 'the first event');
    const z1 = await put(`${p}/z/1`, 'x');
    await waitFor(() => calls.length === 2, 'the second event');
    await put(`${p}/a/2`, 'x');
    await waitFor(() => calls.length === 3, 'the third event');
    assert.deepEqual(calls, [
      // The z watcher has delivered nothing yet: the point stays where the watch began.
      { keys: ['/a/1'], point: snap.revision },
      { keys: ['/z/1'], point: a1 },
      { keys: ['/a/2'], point: z1 },
    ]);
    const head = await store.head();
    assert.equal(head.revision, await put(`${p}/other`, 'x') - 1);
    assert.ok(head.cluster && head.cluster === snap.cluster, `head and snapshot name the same cluster (${head.cluster}, ${snap.cluster})`);
  } finally {
    await h.cancel();
    store.close();
  }
});

test('a replay of more than 1,000 revisions comes in batches; each batch moves the point only as far as its own events', async () => {
  const p = uniquePrefix('batches');
  const store = new EtcdStore(at(shared.etcd.url));
  const specs = [{ key: `${p}/r`, recursive: true }];
  const from = (await store.snapshot(specs)).revision + 1;
  let last = 0;
  for (let i = 0; i < 2500; i += 100) {
    const ops = [];
    for (let j = i; j < i + 100; j++) ops.push(shared.client.put(`${p}/r/k${j}`).value(String(j)).exec());
    last = Math.max(last, ...(await Promise.all(ops)).map((r) => Number(r.header.revision)));
  }
  const batches: Array<{ events: WatchEvent[]; point: number }> = [];
  const h = await store.watch(specs, from, {
    onEvents: (events, point) => batches.push({ events, point }),
    onBroken: (err) => assert.fail(err),
  });
  try {
    await waitFor(() => batches.at(-1)?.point === last, 'the whole replay');
    assert.ok(batches.length >= 3, `${batches.length} batches: etcd sent the replay in one piece, and the test proves nothing`);
    for (const b of batches) {
      // Every batch's header says `last`; the point must say what the batch itself delivered.
      assert.equal(b.point, b.events.at(-1)!.revision);
    }
    assert.equal(batches.flatMap((b) => b.events).length, 2500);
  } finally {
    await h.cancel();
    store.close();
  }
});

test('progress notifications move a quiet watch\'s point up to the revision etcd has reached', async () => {
  const own = await EtcdServer.start(['--experimental-watch-progress-notify-interval=300ms']);
  const client = own.client();
  const store = new EtcdStore(at(own.url));
  const specs = [{ key: '/quiet', recursive: true }];
  try {
    const snap = await store.snapshot(specs);
    const points: number[] = [];
    const h = await store.watch(specs, snap.revision + 1, {
      onEvents: (events, point) => {
        assert.deepEqual(events, [], 'no event is under /quiet');
        points.push(point);
      },
      onBroken: (err) => assert.fail(err),
    });
    let rev = 0;
    for (let i = 0; i < 5; i++) rev = Number((await client.put(`/loud/${i}`).value('x').exec()).header.revision);
    await waitFor(() => points.at(-1) === rev, 'a progress notification at the newest revision', 10_000);
    await h.cancel();
  } finally {
    client.close();
    store.close();
    await own.stop();
  }
});

test('a watch from a compacted revision is a WatchCancelledError that says so', async () => {
  const p = uniquePrefix('cancel');
  const store = new EtcdStore(at(shared.etcd.url));
  const specs = [{ key: `${p}/k`, recursive: false }];
  await put(`${p}/k`, '1');
  // A watch right after a snapshot is not checked first: a compaction between the two is etcd's own cancel.
  const snap = await store.snapshot(specs);
  await put(`${p}/k`, '2');
  const r3 = await put(`${p}/k`, '3');
  await shared.client.kv.compact({ revision: r3, physical: true });
  let broken: unknown = null;
  // etcd 3.4 creates the watch, then cancels it: the break comes after the creation.
  const h = await store
    .watch(specs, snap.revision + 1, { onEvents: () => undefined, onBroken: (e) => (broken = e) })
    .catch((e: unknown) => {
      broken = e;
      return null;
    });
  try {
    const err = await waitFor(() => broken, 'the cancel');
    assert.ok(err instanceof WatchCancelledError, `got ${err instanceof Error ? err.message : typeof err}`);
    assert.match(err.message, new RegExp(`^etcd watch on ${shared.etcd.url} was cancelled by etcd: its start revision is compacted$`));
  } finally {
    await h?.cancel();
    store.close();
  }
});

test('a watch resumed from a compacted revision is cancelled at once, without creating a watch on etcd', async () => {
  const p = uniquePrefix('probe');
  const store = new EtcdStore(at(shared.etcd.url));
  const specs = [{ key: `${p}/d`, recursive: true }, { key: `${p}/k`, recursive: false }];
  // Every watch creation (and cancel) is one message on a Watch stream.
  const watchRequests = (): Promise<number> => metricSum(shared.etcd, 'grpc_server_msg_received_total', { grpc_method: 'Watch' });
  try {
    const held = (await store.snapshot(specs)).revision;
    await put(`${p}/k`, '1');
    const r2 = await put(`${p}/d/a`, '2');
    await shared.client.kv.compact({ revision: r2, physical: true });
    let broken: unknown = null;
    const points: number[] = [];
    // From the snapshot's revision + 1, but after another watch: a resume, which etcd can no longer serve.
    const first = await store.watch(specs, r2, { onEvents: (_, point) => points.push(point), onBroken: (e) => assert.fail(e) });
    await first.cancel();
    const before = await watchRequests();
    const h = await store.watch(specs, held + 1, { onEvents: () => undefined, onBroken: (e) => (broken = e) });
    const err = await waitFor(() => broken, 'the cancel');
    await h.cancel();
    assert.ok(err instanceof WatchCancelledError, `got ${err instanceof Error ? err.message : typeof err}`);
    assert.equal(err.message, `etcd watch on ${shared.etcd.url} cannot start from revision ${held + 1}: etcd has compacted it`);
    // The resume from the compaction revision itself is served (etcd keeps that revision), and from the
    // revision after the newest too (etcd calls it a future revision: nothing is compacted there).
    assert.equal((await watchRequests()) - before, 0, 'the refused watch sent etcd nothing');
    const next = await put(`${p}/other`, 'x');
    const events: string[] = [];
    const ok = await store.watch(specs, next + 1, { onEvents: (evs) => events.push(...evs.map((e) => e.value)), onBroken: (e) => assert.fail(e) });
    await put(`${p}/k`, 'after');
    await waitFor(() => events.includes('after'), 'an event on the watch resumed past the newest revision');
    // The count moves with a creation: the refused watch would have shown.
    assert.ok((await watchRequests()) - before > 0, 'the watch created afterwards is counted');
    await ok.cancel();
  } finally {
    store.close();
  }
});

/**
 * The Store contract (src/etcd/store.ts), written once and run against both stores: EtcdStore on a real etcd,
 * and the in-memory MemoryStore the fast tests drive the agent with. If the fake drifts from etcd, its run
 * fails here.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EtcdStore } from '../../src/etcd/client';
import { WatchCancelledError, type KeySpec, type Store, type WatchEvent, type WatchHandle } from '../../src/etcd/store';
import { at, sharedEtcd, uniquePrefix } from '../support/etcd';
import { MemoryStore } from '../support/memory-store';
import { waitFor } from '../support/util';

/** A store, and the writes a test makes around it; each write gives its revision. */
interface Backend {
  store: Store;
  put(key: string, value: string): Promise<number>;
  del(key: string): Promise<number>;
  /** Forgets the history before `revision`. */
  compact(revision: number): Promise<void>;
  close(): void;
}

const shared = sharedEtcd();

const backends: Record<string, () => Backend> = {
  MemoryStore: () => {
    const store = new MemoryStore();
    return {
      store,
      put: (k, v) => Promise.resolve(store.put(k, v)),
      del: (k) => Promise.resolve(store.delete(k)),
      compact: (rev) => Promise.resolve(store.compact(rev)),
      close: () => store.close(),
    };
  },
  EtcdStore: () => {
    const store = new EtcdStore(at(shared.etcd.url));
    const c = shared.client;
    return {
      store,
      put: async (k, v) => Number((await c.put(k).value(v).exec()).header.revision),
      del: async (k) => Number((await c.delete().key(k).exec()).header.revision),
      compact: async (rev) => void (await c.kv.compact({ revision: rev, physical: true })),
      close: () => store.close(),
    };
  },
};

/** What a watch reported: its events and resume points, in order, and how it ended. */
class Recorder {
  readonly events: WatchEvent[] = [];
  readonly points: number[] = [];
  broken: Error | null = null;
  readonly handlers = {
    onEvents: (events: WatchEvent[], point: number): void => {
      this.events.push(...events);
      this.points.push(point);
    },
    onBroken: (err: Error): void => {
      this.broken = err;
    },
  };

  /** Short form of each event: `put /a=1 @7`. */
  told(p: string): string[] {
    return this.events.map((e) => `${e.type} ${e.key.slice(p.length)}${e.type === 'put' ? `=${e.value}` : ''} @${e.revision}`);
  }
}

/** Starts a watch; a watch that fails at once (thrown) counts as broken, as one that breaks right after does. */
async function watch(b: Backend, specs: KeySpec[], from: number, r: Recorder): Promise<WatchHandle | null> {
  try {
    return await b.store.watch(specs, from, r.handlers);
  } catch (err) {
    r.broken = err as Error;
    return null;
  }
}

for (const [name, open] of Object.entries(backends)) {
  describe(name, () => {
    const using = async (fn: (b: Backend, p: string) => Promise<void>): Promise<void> => {
      const b = open();
      try {
        await fn(b, uniquePrefix(name));
      } finally {
        b.close();
      }
    };

    test('a snapshot reads every spec at one revision, the newest, with exactly the keys each spec wants; head() tells the same', () =>
      using(async (b, p) => {
        let last = 0;
        for (const [k, v] of [['/app', 'root'], ['/app/a', '1'], ['/app/b/c', '2'], ['/apple', 'no'], ['/app-x', 'no'], ['/one', '1'], ['/one/sub', 'no']]) {
          last = await b.put(p + k, v);
        }
        const specs = [
          { key: `${p}/app`, recursive: true },
          { key: `${p}/one`, recursive: false },
          { key: `${p}/app`, recursive: false },
          { key: `${p}/none`, recursive: false },
        ];
        const snap = await b.store.snapshot(specs);
        assert.equal(snap.revision, last);
        const keys = snap.kvs.map((kvs) => kvs.map((kv) => `${kv.key.slice(p.length)}=${kv.value}`));
        assert.deepEqual(keys, [['/app=root', '/app/a=1', '/app/b/c=2'], ['/one=1'], ['/app=root'], []]);
        const head = await b.store.head();
        assert.equal(head.revision, last);
        assert.equal(head.cluster, snap.cluster);
        // A write no spec wants still moves the store's revision.
        const elsewhere = await b.put(`${p}-elsewhere`, 'x');
        assert.equal((await b.store.head()).revision, elsewhere);
      }));

    test('a watch delivers every later event of its specs once, in order per spec, deletes included, and nothing else', () =>
      using(async (b, p) => {
        const specs = [{ key: `${p}/app`, recursive: true }, { key: `${p}/one`, recursive: false }];
        await b.put(`${p}/app/early`, 'gone soon');
        const snap = await b.store.snapshot(specs);
        // Written between the snapshot and the watch: replayed.
        const r1 = await b.put(`${p}/app/a`, '1');
        const r = new Recorder();
        const h = await watch(b, specs, snap.revision + 1, r);
        try {
          await b.put(`${p}/apple`, 'not wanted');
          await b.put(`${p}/one/sub`, 'not wanted: /one is not recursive');
          const r2 = await b.del(`${p}/app/early`);
          const r3 = await b.put(`${p}/one`, '1');
          // A sentinel in each spec: etcd orders events per watcher (per range), not across them. Once both
          // are here, anything unwanted would have been too.
          const r4 = await b.put(`${p}/app/zz`, 'sentinel');
          const r5 = await b.put(`${p}/one`, 'sentinel');
          await waitFor(() => r.events.filter((e) => e.value === 'sentinel').length === 2 || r.broken, 'both sentinels');
          assert.equal(r.broken, null);
          for (const spec of ['/app/', '/one']) {
            const revs = r.events.filter((e) => e.key.startsWith(p + spec)).map((e) => e.revision);
            assert.deepEqual(revs, [...revs].sort((x, y) => x - y), `${spec}: in revision order`);
          }
          const byRevision = r.told(p).sort((x, y) => Number(x.split('@')[1]) - Number(y.split('@')[1]));
          assert.deepEqual(byRevision, [
            `put /app/a=1 @${r1}`,
            `delete /app/early @${r2}`,
            `put /one=1 @${r3}`,
            `put /app/zz=sentinel @${r4}`,
            `put /one=sentinel @${r5}`,
          ]);
        } finally {
          await h?.cancel();
        }
      }));

    test('the resume point is what the watch has delivered, never a newer revision; a watch from it + 1 delivers the rest', () =>
      using(async (b, p) => {
        const specs = [{ key: `${p}/app`, recursive: true }];
        const snap = await b.store.snapshot(specs);
        const r1 = await b.put(`${p}/app/a`, '1');
        // Newer than anything the watch will deliver in its replay.
        await b.put(`${p}/other`, 'x');
        const first = new Recorder();
        const h = await watch(b, specs, snap.revision + 1, first);
        let point: number;
        try {
          await waitFor(() => first.events.length === 1 || first.broken, 'the replay');
          assert.deepEqual(first.points, [r1], 'the replay proves delivery up to its own event, not to the newest revision');
          const r2 = await b.put(`${p}/app/b`, '2');
          await waitFor(() => first.events.length === 2 || first.broken, 'the live event');
          assert.deepEqual(first.points, [r1, r2]);
          assert.equal(first.broken, null);
          point = first.points[first.points.length - 1];
        } finally {
          await h?.cancel();
        }
        const r3 = await b.put(`${p}/app/c`, '3');
        const again = new Recorder();
        const h2 = await watch(b, specs, point + 1, again);
        try {
          await waitFor(() => again.events.length >= 1 || again.broken, 'the resumed replay');
          assert.deepEqual(again.told(p), [`put /app/c=3 @${r3}`]);
          assert.deepEqual(again.points, [r3]);
        } finally {
          await h2?.cancel();
        }
      }));

    test('a watch from before a compaction is cancelled with WatchCancelledError; one from the compaction revision is served', () =>
      using(async (b, p) => {
        const specs = [{ key: `${p}/k`, recursive: false }];
        const snap = await b.store.snapshot(specs);
        const r1 = await b.put(`${p}/k`, '1');
        const r2 = await b.put(`${p}/k`, '2');
        const r3 = await b.put(`${p}/k`, '3');
        await b.compact(r2);
        // Right after a snapshot, and resuming from an older point: both are cancelled.
        for (const from of [snap.revision + 1, r1]) {
          if (from === snap.revision + 1) await b.store.snapshot(specs);
          const r = new Recorder();
          const h = await watch(b, specs, from, r);
          try {
            const err = await waitFor(() => r.broken, `the cancel of the watch from ${from}`);
            assert.ok(err instanceof WatchCancelledError, `from ${from}: ${err.message}`);
            assert.deepEqual(r.events, [], 'nothing is delivered from a compacted revision');
          } finally {
            await h?.cancel();
          }
        }
        const kept = new Recorder();
        const h = await watch(b, specs, r2, kept);
        try {
          await waitFor(() => kept.events.length >= 2 || kept.broken, 'the replay from the compaction revision');
          assert.equal(kept.broken, null);
          assert.deepEqual(kept.told(p), [`put /k=2 @${r2}`, `put /k=3 @${r3}`]);
        } finally {
          await h?.cancel();
        }
      }));
  });
}

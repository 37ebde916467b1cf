/**
 * An in-memory Store for the fast test tier: the same contract as the etcd one (src/etcd/store.ts), with
 * revisions, compaction, an outage and broken watches, so that the agent's logic can be tested with mock
 * timers and no etcd process. The real-etcd tests remain the proof that EtcdStore keeps this contract.
 */
import { EtcdError } from '../../src/errors';
import {
  specWants,
  WatchCancelledError,
  type Head,
  type KeySpec,
  type Snapshot,
  type Store,
  type WatchEvent,
  type WatchHandlers,
  type WatchHandle,
} from '../../src/etcd/store';

interface Watch {
  specs: readonly KeySpec[];
  handlers: WatchHandlers;
  broken: boolean;
}

export class MemoryStore implements Store {
  readonly endpoints = ['memory'];
  revision = 1;
  /** The cluster's identity; restore() makes a new one, as a restore from backup does. */
  cluster = 'memory-1';
  private compacted = 0;
  private readonly data = new Map<string, string>();
  private readonly history: WatchEvent[] = [];
  private readonly watches = new Set<Watch>();
  /** While true, every call fails as an unreachable etcd would. */
  down = false;
  /** Counts of calls, for assertions. */
  snapshots = 0;
  /** Keys read by snapshots. */
  keysRead = 0;
  watchesCreated = 0;
  /** The revision each watch was asked to start from, in order. */
  readonly watchedFrom: number[] = [];
  heads = 0;

  put(key: string, value: string): number {
    this.revision += 1;
    this.data.set(key, value);
    this.emit({ type: 'put', key, value, revision: this.revision });
    return this.revision;
  }

  delete(key: string): number {
    this.revision += 1;
    this.data.delete(key);
    this.emit({ type: 'delete', key, value: '', revision: this.revision });
    return this.revision;
  }

  /**
   * Forgets the history before `revision`, as etcd's compaction does: a watch from an earlier revision is
   * cancelled; one from `revision` itself is still served.
   */
  compact(revision = this.revision): void {
    this.compacted = revision;
    this.history.splice(0, this.history.findIndex((e) => e.revision >= revision) >>> 0);
  }

  /**
   * Brings back an older state as a restore from backup does: the data and revision of `revision`, under a new
   * cluster ID unless `sameCluster`. Open watches are broken.
   */
  restore(revision: number, sameCluster = false): void {
    const kept = new Map<string, string>();
    for (const e of this.history) {
      if (e.revision > revision) break;
      if (e.type === 'put') kept.set(e.key, e.value);
      else kept.delete(e.key);
    }
    this.data.clear();
    for (const [k, v] of kept) this.data.set(k, v);
    this.history.splice(this.history.findIndex((e) => e.revision > revision) >>> 0);
    this.revision = revision;
    if (!sameCluster) this.cluster = `${this.cluster}+`;
    this.breakWatches();
  }

  /** A progress notification on every open watch: nothing else happened up to the current revision. */
  progress(): void {
    for (const w of this.watches) queueMicrotask(() => !w.broken && w.handlers.onEvents([], this.revision));
  }

  /** Breaks every open watch (a disconnect). */
  breakWatches(reason = new Error('connection lost')): void {
    for (const w of this.watches) this.fail(w, reason);
  }

  get openWatches(): number {
    return this.watches.size;
  }

  async snapshot(specs: readonly KeySpec[]): Promise<Snapshot> {
    this.snapshots += 1;
    await Promise.resolve();
    if (this.down) throw new EtcdError('etcd read on memory failed: unreachable', { kind: 'unreachable' });
    const keys = [...this.data.keys()].sort();
    const kvs = specs.map((s) => keys.filter((k) => specWants(s, k)).map((k) => ({ key: k, value: this.data.get(k)! })));
    this.keysRead += kvs.reduce((n, l) => n + l.length, 0);
    return { revision: this.revision, cluster: this.cluster, kvs };
  }

  async head(): Promise<Head> {
    this.heads += 1;
    await Promise.resolve();
    if (this.down) throw new EtcdError('etcd read on memory failed: unreachable', { kind: 'unreachable' });
    return { revision: this.revision, cluster: this.cluster };
  }

  async watch(specs: readonly KeySpec[], fromRevision: number, handlers: WatchHandlers): Promise<WatchHandle> {
    this.watchedFrom.push(fromRevision);
    await Promise.resolve();
    if (this.down) throw new EtcdError('etcd watch on memory failed: unreachable', { kind: 'unreachable' });
    this.watchesCreated += 1;
    const w: Watch = { specs, handlers, broken: false };
    this.watches.add(w);
    if (fromRevision < this.compacted) {
      const err = new WatchCancelledError(`etcd watch on memory was cancelled by etcd: revision ${fromRevision} is compacted (at ${this.compacted})`);
      queueMicrotask(() => this.fail(w, err));
    } else {
      const replay = this.history.filter((e) => e.revision >= fromRevision && specs.some((s) => specWants(s, e.key)));
      // The resume point is the last event delivered, not the newest revision: later revisions outside the
      // specs are not known to have been passed on (etcd's own replay batches carry the newest in their header).
      if (replay.length) queueMicrotask(() => !w.broken && w.handlers.onEvents(replay, replay[replay.length - 1].revision));
    }
    return {
      cancel: () => {
        this.watches.delete(w);
        return Promise.resolve();
      },
    };
  }

  close(): void {
    this.watches.clear();
  }

  private emit(e: WatchEvent): void {
    this.history.push(e);
    for (const w of this.watches) {
      if (w.broken || !w.specs.some((s) => specWants(s, e.key))) continue;
      queueMicrotask(() => !w.broken && w.handlers.onEvents([e], e.revision));
    }
  }

  private fail(w: Watch, reason: Error): void {
    if (w.broken) return;
    w.broken = true;
    this.watches.delete(w);
    w.handlers.onBroken(reason);
  }
}

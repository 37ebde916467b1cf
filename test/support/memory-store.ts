/**
 * An in-memory Store for the fast test tier: the same contract as the etcd one (src/etcd/store.ts), with
 * revisions, compaction, an outage and broken watches, so that the agent's logic can be tested with mock
 * timers and no etcd process. The real-etcd tests remain the proof that EtcdStore keeps this contract.
 */
import { EtcdError } from '../../src/errors';
import { specWants, type KeySpec, type Snapshot, type Store, type WatchEvent, type WatchHandlers, type WatchHandle } from '../../src/etcd/store';

interface Watch {
  specs: readonly KeySpec[];
  handlers: WatchHandlers;
  broken: boolean;
}

export class MemoryStore implements Store {
  readonly endpoints = ['memory'];
  revision = 1;
  private compacted = 0;
  private readonly data = new Map<string, string>();
  private readonly history: WatchEvent[] = [];
  private readonly watches = new Set<Watch>();
  /** While true, every call fails as an unreachable etcd would. */
  down = false;
  /** Counts of calls, for assertions. */
  snapshots = 0;
  watchesCreated = 0;

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

  /** Forgets history up to `revision`: a watch from there or before is cancelled, as etcd does. */
  compact(revision = this.revision): void {
    this.compacted = revision;
    this.history.splice(0, this.history.findIndex((e) => e.revision > revision) >>> 0);
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
    return { revision: this.revision, kvs: specs.map((s) => keys.filter((k) => specWants(s, k)).map((k) => ({ key: k, value: this.data.get(k)! }))) };
  }

  async watch(specs: readonly KeySpec[], fromRevision: number, handlers: WatchHandlers): Promise<WatchHandle> {
    await Promise.resolve();
    if (this.down) throw new EtcdError('etcd watch on memory failed: unreachable', { kind: 'unreachable' });
    this.watchesCreated += 1;
    const w: Watch = { specs, handlers, broken: false };
    this.watches.add(w);
    if (fromRevision <= this.compacted) {
      queueMicrotask(() => this.fail(w, new Error(`watch from revision ${fromRevision}: compacted at ${this.compacted}`)));
    } else {
      const replay = this.history.filter((e) => e.revision >= fromRevision && specs.some((s) => specWants(s, e.key)));
      if (replay.length) queueMicrotask(() => !w.broken && w.handlers.onEvents(replay, this.revision));
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

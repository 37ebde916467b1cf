/**
 * The small store interface the agent depends on: a snapshot of some key ranges at one revision, and a watch
 * of those ranges from a revision. The etcd implementation lives beside it; tests can drive the agent's
 * loop with anything that keeps this contract.
 */
import { EtcdError } from '../errors';

/** A key the agent wants: the one key, or (recursive) the key and everything under `key/`. */
export interface KeySpec {
  key: string;
  recursive: boolean;
}

export interface KV {
  key: string;
  value: string;
}

export interface Snapshot {
  revision: number;
  /** The cluster's identity, where the transport tells it: a resumed watch must be on the same history. */
  cluster?: string;
  /** One list per requested KeySpec, in the same order, holding exactly the keys that spec wants. */
  kvs: KV[][];
}

export interface WatchEvent {
  type: 'put' | 'delete';
  key: string;
  /** The new value; '' for a delete. */
  value: string;
  revision: number;
}

export interface WatchHandlers {
  /**
   * Events of one or more revisions, in revision order for each spec (etcd orders them per watched range, so
   * events of two specs far apart may come in either order). `revision` is the watch's resume point: every event of the
   * watched ranges up to it has now been delivered. It comes from the events' own revisions and from etcd's
   * progress notifications, never from a response header alone (a replay's batches carry the newest revision,
   * not the last one sent). `events` may be empty when only the resume point moved.
   */
  onEvents(events: WatchEvent[], revision: number): void;
  /**
   * The watch stopped delivering (disconnected, member gone, cancelled by etcd). Called once. The caller may
   * watch again from the last resume point + 1, unless `reason` is a WatchCancelledError: then it must read a
   * fresh snapshot first.
   */
  onBroken(reason: Error): void;
}

/**
 * etcd itself cancelled the watch: its start revision was compacted, or a permission was withdrawn. Watching
 * again from the same revision would meet the same answer, so the caller reads a fresh snapshot.
 */
export class WatchCancelledError extends EtcdError {}

/** Where the store stands now: its newest revision, and the cluster's identity where the transport tells it. */
export interface Head {
  revision: number;
  cluster?: string;
}

export interface WatchHandle {
  cancel(): Promise<void>;
}

/** What --onetime needs: one consistent read. */
export interface Reader {
  /** The endpoints in use, for messages. */
  readonly endpoints: readonly string[];
  snapshot(specs: readonly KeySpec[]): Promise<Snapshot>;
  close(): void;
}

/** What the watching agent needs: reads and a watch from a revision. */
export interface Store extends Reader {
  watch(specs: readonly KeySpec[], fromRevision: number, handlers: WatchHandlers): Promise<WatchHandle>;
  /**
   * A cheap call that reads no values: the member that answers is the one the next watch uses, and its answer
   * tells a resuming agent whether the history it holds is still the cluster's (same cluster, no revision
   * gone backwards after a restore).
   */
  head(): Promise<Head>;
}

/** True when `key` belongs to `spec`. `/app` never matches `/apple`. */
export function specWants(spec: KeySpec, key: string): boolean {
  if (key === spec.key) return true;
  return spec.recursive && key.length > spec.key.length && key.startsWith(spec.key) && key[spec.key.length] === '/';
}

/** A half-open byte range [start, end) of etcd keys. */
export interface ByteRange {
  start: Buffer;
  end: Buffer;
}

/** The smallest byte range that holds every key `spec` wants (it may hold a few it does not, e.g. `/app-x`). */
export function specRange(spec: KeySpec): ByteRange {
  const start = Buffer.from(spec.key);
  if (!spec.recursive) return { start, end: Buffer.concat([start, Buffer.from([0])]) };
  // `key/` sorts after `key-x` and `key.x`; `key0` is the first key past everything under `key/`.
  return { start, end: Buffer.from(`${spec.key}0`) };
}

/**
 * Merges the specs' ranges where they overlap or touch, so that nested and adjacent targets share a watcher.
 * More than `max` ranges are covered by one span: events outside the specs are filtered by the caller.
 */
export function mergeRanges(specs: readonly KeySpec[], max = 64): ByteRange[] {
  const ranges = specs.map(specRange).sort((a, b) => Buffer.compare(a.start, b.start));
  const out: ByteRange[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && Buffer.compare(r.start, last.end) <= 0) {
      if (Buffer.compare(r.end, last.end) > 0) last.end = r.end;
    } else {
      out.push({ ...r });
    }
  }
  if (out.length <= max) return out;
  const end = out.reduce((e, r) => (Buffer.compare(r.end, e) > 0 ? r.end : e), out[0].end);
  return [{ start: out[0].start, end }];
}

/**
 * Finds, for an etcd key, the items whose spec wants it, in time proportional to the key's depth rather than
 * to the number of items: an exact-key map, and a map of recursive keys looked up at each `/` of the key.
 */
export class SpecIndex<T> {
  private readonly exact = new Map<string, T[]>();
  private readonly dirs = new Map<string, T[]>();

  constructor(items: readonly T[], spec: (item: T) => KeySpec) {
    for (const item of items) {
      const s = spec(item);
      push(this.exact, s.key, item);
      if (s.recursive) push(this.dirs, s.key, item);
    }
  }

  lookup(key: string): T[] {
    const found = [...(this.exact.get(key) ?? [])];
    if (this.dirs.size === 0) return found;
    for (let i = key.indexOf('/', 1); i > 0; i = key.indexOf('/', i + 1)) {
      const hit = this.dirs.get(key.slice(0, i));
      if (hit) found.push(...hit);
    }
    return found;
  }
}

function push<T>(map: Map<string, T[]>, key: string, item: T): void {
  const list = map.get(key);
  if (list) list.push(item);
  else map.set(key, [item]);
}

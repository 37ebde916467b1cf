/**
 * One watch over many key specs on one etcd3 client: the specs' ranges merged, one watcher per range, all on
 * the client's single watch stream. The library's own resume is never relied on (docs/etcd-client.md): the
 * first disconnect or cancel is reported once as broken, and the caller decides how to watch again.
 *
 * The resume point it reports is the smallest, over its watchers, of what each has provably delivered: the
 * newest event revision it sent, or the revision of a progress notification (etcd sends those only to a
 * watcher that has caught up). A response header alone proves nothing: while catching up, etcd sends batches
 * of at most 1,000 revisions, each stamped with the store's newest revision.
 */
import { Range, EtcdInvalidAuthTokenError, type Etcd3, type IKeyValue, type Watcher } from 'etcd3';
import { EtcdError } from '../errors';
import { classify } from './classify';
import {
  mergeRanges,
  SpecIndex,
  WatchCancelledError,
  type KeySpec,
  type WatchEvent,
  type WatchHandle,
  type WatchHandlers,
} from './store';

/** How long cancelling a watch may take before the client is rebuilt. */
const CANCEL_TIMEOUT_MS = 1000;

export interface WatchOn {
  client: Etcd3;
  /** The member, for messages. */
  at: string;
  /** How long a watcher may take to be created. */
  createTimeoutMs: number;
  /** Drops `client` if it is still the store's: the way out of a jammed watch queue or a dead token. */
  rebuild(): void;
}

export async function watchSpecs(
  on: WatchOn,
  specs: readonly KeySpec[],
  fromRevision: number,
  handlers: WatchHandlers,
): Promise<WatchHandle> {
  const { at } = on;
  const watchers: Watcher[] = [];
  const index = new SpecIndex(specs, (s) => s);
  let broken = false;
  // Resolved at the break (or the caller's cancel): a creation still pending is abandoned then.
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((r) => (stop = r));
  // A cancel goes through the client's watch stream; on a broken or silent stream it may never be answered,
  // and the client's queue is then stuck (docs/etcd-client.md). Give it a moment, then start a fresh client.
  const cancelEach = async (list: readonly Watcher[]): Promise<void> => {
    if (list.length === 0) return;
    const cancelled = Promise.allSettled(list.map((w) => w.cancel())).then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), CANCEL_TIMEOUT_MS)));
    const ok = await Promise.race([cancelled, late]);
    clearTimeout(timer);
    if (!ok) on.rebuild();
  };
  // However often it is asked (the break, then the feed's own cancel), the watchers are cancelled once. A
  // watcher whose creation completes after this is cancelled by the creation loop itself.
  let cancelling: Promise<void> | null = null;
  const cancelAll = (): Promise<void> => (cancelling ??= cancelEach([...watchers]));
  const end = (): void => {
    broken = true;
    stop();
  };
  const breakOnce = (reason: Error, cause?: unknown): void => {
    if (broken) return;
    end();
    // A watcher killed by an expired token leaves a client whose next watch may hang (docs/etcd-client.md).
    if (cause instanceof EtcdInvalidAuthTokenError) on.rebuild();
    void cancelAll();
    handlers.onBroken(reason);
  };
  const ranges = mergeRanges(specs);
  // What each watcher has provably delivered, and the smallest of them last reported.
  const delivered = ranges.map(() => fromRevision - 1);
  let reported = fromRevision - 1;
  try {
    for (const [i, r] of ranges.entries()) {
      const w = await createWatcher(on, r.start, r.end, fromRevision, stopped);
      // Broken while it was being created: create no more, and leave none behind. The cancel of the others
      // may already have run, without this one.
      if (w === null) break;
      if (broken) {
        await cancelEach([w]);
        break;
      }
      watchers.push(w);
      w.on('data', (res) => {
        if (broken) return;
        const events: WatchEvent[] = [];
        let newest = 0;
        for (const e of res.events) {
          newest = Math.max(newest, Number(e.kv.mod_revision));
          const key = e.kv.key.toString('utf8');
          if (index.lookup(key).length > 0) events.push(toEvent(e.type === 'Delete' ? 'delete' : 'put', e.kv, key));
        }
        // A response without events is a progress notification: everything up to its revision is delivered.
        if (res.events.length === 0) newest = Number(res.header.revision);
        if (newest > delivered[i]) delivered[i] = newest;
        const point = ranges.length === 1 ? delivered[0] : Math.min(...delivered);
        if (events.length === 0 && point <= reported) return;
        reported = Math.max(reported, point);
        handlers.onEvents(events, reported);
      });
      w.on('disconnected', (err) => breakOnce(classify(err, at, 'watch'), err));
      w.on('error', (err) => breakOnce(cancelled(err, at), err));
      w.on('end', () => breakOnce(new EtcdError(`etcd watch on ${at} ended`, { kind: 'unreachable' })));
    }
  } catch (err) {
    end();
    await cancelAll();
    throw err;
  }
  return {
    cancel: async () => {
      end();
      await cancelAll();
    },
  };
}

/** One watcher, once etcd has created it; null when `abandoned` came first (the pending watcher is detached). */
function createWatcher(on: WatchOn, start: Buffer, end: Buffer, fromRevision: number, abandoned: Promise<void>): Promise<Watcher | null> {
  // watcher() rather than create(): on a time-out the pending watcher must be detached, or the closed
  // client's watch manager would keep trying to re-establish its stream, forever.
  const w = on.client.watch().inRange(new Range(start, end)).startRevision(String(fromRevision)).watcher();
  const detach = (): void => {
    w.removeAllListeners();
    // Detached while pending, the client cancels it as soon as etcd has created it.
    void w.cancel().catch(() => undefined);
  };
  let settled = false;
  return new Promise<Watcher | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      settled = true;
      detach();
      // A create that never answers jams the client's queue (docs/etcd-client.md): start a new client.
      on.rebuild();
      reject(new Error(`watch was not created within ${on.createTimeoutMs} ms`));
    }, on.createTimeoutMs);
    void abandoned.then(() => {
      if (settled) return; // created (the caller cancels it) or failed
      settled = true;
      clearTimeout(timer);
      detach();
      resolve(null);
    });
    w.once('connected', () => {
      settled = true;
      clearTimeout(timer);
      resolve(w);
    });
    w.once('error', (err: Error) => {
      settled = true;
      clearTimeout(timer);
      reject(cancelled(err, on.at));
    });
  });
}

/**
 * A watcher's `error` is always etcd cancelling it: the start revision is compacted (etcd 3.4 gives no reason
 * then), or a permission or token was refused (it gives one).
 */
function cancelled(err: Error, at: string): WatchCancelledError {
  const reason = err.message.replace(/^.*Watcher canceled:\s*/s, '').trim();
  const kind = classify(err, at, 'watch').kind;
  const why = reason || 'its start revision is compacted';
  return new WatchCancelledError(`etcd watch on ${at} was cancelled by etcd: ${why}`, { cause: err, kind });
}

function toEvent(type: 'put' | 'delete', kv: IKeyValue, key: string): WatchEvent {
  return { type, key, value: type === 'put' ? kv.value.toString('utf8') : '', revision: Number(kv.mod_revision) };
}

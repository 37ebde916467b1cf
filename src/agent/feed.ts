/**
 * Keeps the runners fed from the store: snapshot -> load every runner -> watch from the snapshot's revision + 1.
 * When the watch breaks (a disconnect, a member gone, etcd restarted) it backs off and watches again from the
 * last revision every watcher has provably delivered + 1, reading nothing again: etcd replays what happened
 * meanwhile. It reads a fresh snapshot only when resuming cannot be trusted: at start, when etcd cancelled the
 * watch (the revision is compacted), when the cluster's identity changed or its revision went backwards (a
 * restore from backup), on --resync, and on a new set of runners (SIGHUP). State changes are logged once, not
 * once per retry.
 */
import { EtcdError, errorMessage } from '../errors';
import { SpecIndex, WatchCancelledError, type Store, type WatchEvent, type WatchHandle } from '../etcd/store';
import type { Logger } from '../log';
import { noObserver } from './observer';
import type { Observer, Sync } from './ports';
import type { TargetRunner } from './runner';

type State = 'starting' | 'connected' | 'disconnected';

/** What a resumed watch builds on: every change up to `revision` of the history of `cluster`, for `runners`. */
interface ResumePoint {
  revision: number;
  cluster: string | undefined;
  runners: readonly TargetRunner[];
}

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;

export interface FeedOptions {
  /**
   * Before the first sync, an error that retrying will not fix (TLS, auth, DNS) stops the feed and is handed
   * here. Once running, the same errors are logged and retried: an agent never exits because etcd changed.
   */
  onMisconfigured?: (err: EtcdError) => void;
  resyncMs?: number;
  /** Hears every sync, outage and batch of events. */
  observer?: Observer;
  /** Stops the feed (as stop() does, without waiting). */
  signal?: AbortSignal;
}

export class Feed {
  private state: State = 'starting';
  private stopping = false;
  private watch: WatchHandle | null = null;
  /** Resolves the wait for the current watch to break (or for a restart or stop). */
  private wake: (() => void) | null = null;
  private loopDone: Promise<void> | null = null;
  private sleepTimer: NodeJS.Timeout | null = null;
  /** Where the next watch may resume; null when the next one must start from a fresh snapshot. */
  private held: ResumePoint | null = null;

  constructor(
    private readonly store: Store,
    private runners: readonly TargetRunner[],
    private readonly log: Logger,
    private readonly opts: FeedOptions = {},
  ) {
    opts.signal?.addEventListener('abort', () => this.halt(), { once: true });
  }

  start(): void {
    this.loopDone ??= this.loop();
  }

  /** Switches to a new set of runners: a fresh snapshot and watch for them. */
  replace(runners: readonly TargetRunner[]): void {
    this.runners = runners;
    this.held = null;
    this.interrupt();
  }

  /** Stops and waits for the loop to end (its watch cancelled). */
  async stop(): Promise<void> {
    this.halt();
    await this.loopDone;
  }

  private halt(): void {
    this.stopping = true;
    this.interrupt();
  }

  private interrupt(): void {
    if (this.sleepTimer) {
      clearTimeout(this.sleepTimer);
      this.sleepTimer = null;
    }
    this.wake?.();
  }

  private async loop(): Promise<void> {
    let backoff = BACKOFF_MIN_MS;
    let first = true;
    while (!this.stopping) {
      const all = this.runners;
      // Plugin targets with no key run on their own interval, not from etcd; a rollout's later wave is fed by its gate.
      const runners = all.filter((r) => r.specs.length > 0 && !r.gated);
      // A target may read several keys: one entry per key, each naming its runner.
      const pairs = runners.flatMap((runner) => runner.specs.map((spec) => ({ runner, spec })));
      const specs = pairs.map((p) => p.spec);
      const index = new SpecIndex(pairs, (p) => p.spec);
      const broken = new Promise<Error | null>((resolve) => {
        this.wake = () => resolve(null);
      });
      let reason: Error | null = null;
      try {
        const ready = await this.prepare(all, runners);
        if (!ready || this.stopping || all !== this.runners) continue;
        const { sync, held } = ready;
        let onBroken: (err: Error) => void = () => undefined;
        const brokenByWatch = new Promise<Error>((resolve) => (onBroken = resolve));
        this.watch = await this.store.watch(specs, held.revision + 1, {
          onEvents: (events, rev) => {
            // Hand each runner only its own events.
            const mine = new Map<TargetRunner, WatchEvent[]>();
            for (const e of events) {
              for (const { runner: r } of index.lookup(e.key)) {
                const list = mine.get(r);
                if (list) list.push(e);
                else mine.set(r, [e]);
              }
            }
            if (rev > held.revision) held.revision = rev;
            for (const [r, evs] of mine) r.update(evs, rev);
            this.observer.events(events.length, rev);
          },
          onBroken: (err) => onBroken(err),
        });
        this.connected(sync);
        first = false;
        backoff = BACKOFF_MIN_MS;
        // Belt and braces: a fresh snapshot now and then, which also puts back a hand-edited file. Jittered by
        // ±10%, so that a fleet started together does not re-read together.
        const every = this.opts.resyncMs ? this.opts.resyncMs * (0.9 + 0.2 * Math.random()) : 0;
        const resync = every ? setTimeout(() => this.resync(), every) : undefined;
        reason = await Promise.race([broken, brokenByWatch]);
        clearTimeout(resync);
      } catch (err) {
        reason = err instanceof Error ? err : new Error(errorMessage(err));
      } finally {
        this.wake = null;
        const w = this.watch;
        this.watch = null;
        await w?.cancel().catch(() => undefined);
      }
      if (reason === null || this.stopping) continue;
      if (first && reason instanceof EtcdError && reason.misconfigured && this.opts.onMisconfigured) {
        this.stopping = true;
        this.opts.onMisconfigured(reason);
        return;
      }
      // etcd's own answer (a compacted revision): watching from there again would meet it again.
      if (reason instanceof WatchCancelledError) this.held = null;
      this.disconnected(reason);
      await this.sleep(backoff);
      backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
    }
  }

  /**
   * Makes `this.held` a point the next watch can start from: the last one's, if etcd still holds that history,
   * else a fresh snapshot loaded into the runners. Null when the runners changed meanwhile.
   */
  private async prepare(
    all: readonly TargetRunner[],
    runners: readonly TargetRunner[],
  ): Promise<{ sync: Sync; held: ResumePoint } | null> {
    const after = this.state === 'starting' ? 'start' : this.state === 'disconnected' ? 'outage' : 'resync';
    const held = this.held?.runners === all ? this.held : null;
    if (held) {
      const head = await this.store.head();
      const changed = held.cluster !== undefined && head.cluster !== undefined && head.cluster !== held.cluster;
      if (!changed && head.revision >= held.revision) return { sync: { revision: held.revision, after, how: 'resume', keys: 0 }, held };
      this.log.warn(
        { revision: head.revision, held: held.revision },
        changed
          ? 'etcd is another cluster now (its cluster ID changed); reading a fresh snapshot'
          : `etcd's revision went back from ${held.revision} to ${head.revision} (restored from a backup?); reading a fresh snapshot`,
      );
    }
    this.held = null;
    // Every key of every runner at one revision; each runner gets the lists of its own keys, in order.
    const snap = await this.store.snapshot(runners.flatMap((r) => r.specs));
    if (this.stopping || all !== this.runners) return null;
    // Load before watching: events that arrive while the watch is being set up build on the snapshot.
    let i = 0;
    for (const r of runners) r.load(r.specs.flatMap(() => snap.kvs[i++]), snap.revision);
    this.held = { revision: snap.revision, cluster: snap.cluster, runners: all };
    const keys = snap.kvs.reduce((n, kvs) => n + kvs.length, 0);
    return { sync: { revision: snap.revision, after, how: 'snapshot', keys }, held: this.held };
  }

  /** The next watch starts from a fresh snapshot. */
  private resync(): void {
    this.held = null;
    this.wake?.();
  }

  private get observer(): Observer {
    return this.opts.observer ?? noObserver;
  }

  private connected(sync: Sync): void {
    this.observer.synced(sync);
    const { revision } = sync;
    const resumed = `resumed the watch from revision ${revision + 1}, reading nothing again`;
    if (this.state === 'starting') this.log.info({ revision, endpoints: this.store.endpoints }, 'connected; watching');
    else if (this.state === 'disconnected' && sync.how === 'resume') this.log.info({ revision }, `reconnected; ${resumed}`);
    else if (this.state === 'disconnected') this.log.info({ revision }, `reconnected; resynced at revision ${revision}`);
    else this.log.info({ revision }, `resynced at revision ${revision}`);
    this.state = 'connected';
  }

  private disconnected(reason: Error): void {
    if (reason instanceof WatchCancelledError && this.state === 'connected') {
      // etcd answered: still connected, and the next watch follows a resync, not an outage.
      this.log.warn({ err: reason.message }, 'etcd cancelled the watch; reading a fresh snapshot');
      return;
    }
    this.observer.disconnected(reason.message);
    if (this.state === 'connected' || this.state === 'starting') {
      const msg = this.state === 'starting' ? 'cannot reach etcd; retrying' : 'disconnected from etcd; retrying';
      this.log.warn({ err: reason.message, endpoints: this.store.endpoints }, msg);
      this.state = 'disconnected';
    } else {
      this.log.debug({ err: reason.message }, 'still disconnected');
    }
  }

  private sleep(ms: number): Promise<void> {
    const jittered = ms / 2 + Math.random() * (ms / 2);
    return new Promise((resolve) => {
      this.sleepTimer = setTimeout(() => {
        this.sleepTimer = null;
        resolve();
      }, jittered);
      this.wake = resolve;
    });
  }
}

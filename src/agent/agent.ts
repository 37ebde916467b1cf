/**
 * The watching agent: one runner per target, fed by the Feed (etcd, one snapshot and one watch for every keyed
 * runner) and by each target's other sources (wire.ts). One AbortController per set of runners stops its
 * sources, pacing and plugin runs. SIGHUP swaps the whole set: the old runners finish their in-flight apply,
 * then the new set starts from a fresh snapshot. Stopping waits for every in-flight apply.
 */
import type { EtcdError } from '../errors';
import type { Store } from '../etcd/store';
import type { Target } from '../target';
import { cleanStaged } from './cleanup';
import { Feed } from './feed';
import { allOf, noObserver } from './observer';
import type { Observer } from './ports';
import type { RunnerContext, TargetRunner } from './runner';
import { wire, type Wired } from './wire';

/** A set of runners, each with its sources, and the controller that stops them. */
interface RunnerSet {
  wired: Wired[];
  stop: AbortController;
}

export interface AgentOptions {
  /** A fresh snapshot this often (ms, jittered by the Feed); 0: never. */
  resyncMs?: number;
  /**
   * Give up when etcd refuses the agent before its first sync (TLS, auth, DNS): see `misconfigured`. Without it
   * those are retried like any outage (sidecar mode, whose program already runs).
   */
  stopWhenMisconfigured?: boolean;
}

export class Agent {
  private set: RunnerSet;
  private readonly feed: Feed;
  /** The agent's life: aborting it stops the feed and every runner's pacing, plugins and sources. */
  private readonly life = new AbortController();
  /** Called when a runner settles or the watch syncs, to see whether ready() holds now. */
  private waiters: Array<() => void> = [];
  /** The runners' context, with the agent's own observer beside the caller's. */
  private readonly ctx: RunnerContext;
  /** The Feed's watch has been up at least once (its first sync). */
  private watching = false;
  /** Resolves with the error that stopped the agent's feed before its first sync (see AgentOptions). */
  readonly misconfigured: Promise<EtcdError>;

  constructor(
    private readonly store: Store,
    targets: readonly Target[],
    ctx: Omit<RunnerContext, 'observer'> & { observer?: Observer },
    opts: AgentOptions = {},
  ) {
    const own: Observer = {
      ...noObserver,
      settled: () => this.wakeWaiters(),
      synced: () => {
        this.watching = true;
        this.wakeWaiters();
      },
    };
    const observer = allOf([ctx.observer ?? noObserver, own]);
    this.ctx = { ...ctx, observer };
    this.set = this.build(targets);
    let misconfigured: (err: EtcdError) => void = () => undefined;
    this.misconfigured = new Promise((resolve) => (misconfigured = resolve));
    this.feed = new Feed(store, this.runners, ctx.log, {
      resyncMs: opts.resyncMs,
      observer,
      signal: this.life.signal,
      ...(opts.stopWhenMisconfigured ? { onMisconfigured: misconfigured } : {}),
    });
  }

  private build(targets: readonly Target[]): RunnerSet {
    // The set stops with the agent, or alone when SIGHUP replaces it. (Linked by hand: AbortSignal.any needs
    // Node 20.3, and reconfig supports every Node 20.)
    const stop = new AbortController();
    const follow = (): void => stop.abort();
    this.life.signal.addEventListener('abort', follow, { once: true });
    stop.signal.addEventListener('abort', () => this.life.signal.removeEventListener('abort', follow), { once: true });
    return { stop, wired: targets.map((t) => wire(t, this.ctx, { signal: stop.signal })) };
  }

  private get runners(): TargetRunner[] {
    return this.set.wired.map((w) => w.runner);
  }

  /**
   * Resolves once the watch is up (the first sync) and every target of the set has rendered once or failed once
   * (a Docker target whose first list has not come yet, or a keyed target before the first snapshot, keeps it
   * waiting), and none is busy.
   */
  ready(): Promise<void> {
    return this.until(() => this.watching && !this.busy && this.runners.every((r) => r.tried));
  }

  private until(cond: () => boolean): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (cond()) resolve();
        else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  private wakeWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Starts the set's sources other than etcd (the Feed feeds every keyed runner). */
  private follow(set: RunnerSet): void {
    for (const { runner, sources } of set.wired) for (const s of sources) s.follow(runner, set.stop.signal);
  }

  /** Cleans up after a crash; a target whose swap was not followed by its reload owes one. */
  private clean(): void {
    const owed = cleanStaged(this.targets, this.ctx);
    for (const r of this.runners) if (owed.has(r.target.id)) r.oweReload();
  }

  start(): void {
    this.clean();
    this.feed.start();
    this.follow(this.set);
  }

  /** Replaces the set of targets without a restart. */
  async replace(targets: readonly Target[]): Promise<void> {
    await this.halt(this.set);
    this.set = this.build(targets);
    this.ctx.observer.targets(targets.map((t) => t.id));
    this.clean();
    this.feed.replace(this.runners);
    this.follow(this.set);
  }

  /** Some runner has an apply pending or running. */
  get busy(): boolean {
    return this.runners.some((r) => r.busy);
  }

  get targets(): Target[] {
    return this.runners.map((r) => r.target);
  }

  private async halt(set: RunnerSet): Promise<void> {
    set.stop.abort();
    await Promise.all(set.wired.map((w) => w.runner.stop()));
  }

  /** Stops watching and waits for in-flight applies to finish. */
  async stop(): Promise<void> {
    this.life.abort();
    await this.feed.stop();
    await this.halt(this.set);
    this.store.close();
  }
}

/**
 * The watching agent, and the one place where sources are wired to runners: one runner per target; the Feed
 * (etcd, one snapshot and one watch for every keyed runner); and each target's other sources (sources.ts).
 * One AbortController per set of runners stops its sources, pacing and plugin runs. SIGHUP swaps the whole set:
 * the old runners finish their in-flight apply, then the new set starts from a fresh snapshot. Stopping waits
 * for every in-flight apply.
 */
import type { Target } from '../target';
import type { Store } from '../etcd/store';
import { cleanStaged } from './cleanup';
import { Feed, type FeedOptions } from './feed';
import { TargetRunner, type RunnerContext } from './runner';
import { wire, type Source } from './sources';

/** A set of runners, each with its sources, and the controller that stops them. */
interface RunnerSet {
  runners: TargetRunner[];
  sources: Map<TargetRunner, Source[]>;
  stop: AbortController;
}

export class Agent {
  private set: RunnerSet;
  private readonly feed: Feed;
  /** The agent's life: aborting it stops the feed and every runner's pacing, plugins and sources. */
  private readonly life = new AbortController();
  /** Called when no runner is busy any more (see idle()). */
  private idleWaiters: Array<() => void> = [];
  /** The runners' context, with every settling passed through here first (for idle()). */
  private readonly ctx: RunnerContext;

  constructor(
    private readonly store: Store,
    targets: readonly Target[],
    ctx: RunnerContext,
    feedOpts: FeedOptions = {},
  ) {
    this.ctx = {
      ...ctx,
      onSettled: () => {
        ctx.onSettled?.();
        this.settled();
      },
    };
    this.set = this.build(targets);
    this.feed = new Feed(store, this.set.runners, ctx.log, { ...feedOpts, signal: this.life.signal });
  }

  private build(targets: readonly Target[]): RunnerSet {
    // The set stops with the agent, or alone when SIGHUP replaces it. (Linked by hand: AbortSignal.any needs
    // Node 20.3, and reconfig supports every Node 20.)
    const stop = new AbortController();
    const follow = (): void => stop.abort();
    this.life.signal.addEventListener('abort', follow, { once: true });
    stop.signal.addEventListener('abort', () => this.life.signal.removeEventListener('abort', follow), { once: true });
    const sources = new Map<TargetRunner, Source[]>();
    const runners = targets.map((t) => {
      const [runner, own] = wire(t, this.ctx, { signal: stop.signal });
      sources.set(runner, own);
      return runner;
    });
    return { stop, runners, sources };
  }

  /** Resolves once no runner has an apply pending or running (at once if none has). */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private settled(): void {
    if (this.busy || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Starts the set's sources other than etcd (the Feed feeds every keyed runner). */
  private follow(set: RunnerSet): void {
    for (const [runner, own] of set.sources) for (const s of own) s.follow(runner, set.stop.signal);
  }

  start(): void {
    cleanStaged(this.targets, this.ctx);
    this.feed.start();
    this.follow(this.set);
  }

  /** Replaces the set of targets without a restart. */
  async replace(targets: readonly Target[]): Promise<void> {
    await this.halt(this.set);
    this.set = this.build(targets);
    this.ctx.observer?.targets(targets.map((t) => t.id));
    cleanStaged(targets, this.ctx);
    this.feed.replace(this.set.runners);
    this.follow(this.set);
  }

  /** Some runner has an apply pending or running. */
  get busy(): boolean {
    return this.set.runners.some((r) => r.busy);
  }

  get targets(): Target[] {
    return this.set.runners.map((r) => r.target);
  }

  private async halt(set: RunnerSet): Promise<void> {
    set.stop.abort();
    await Promise.all(set.runners.map((r) => r.stop()));
  }

  /** Stops watching and waits for in-flight applies to finish. */
  async stop(): Promise<void> {
    this.life.abort();
    await this.feed.stop();
    await this.halt(this.set);
    this.store.close();
  }
}

/**
 * The watching agent: one runner per target, fed by one Feed over one store. SIGHUP swaps the whole set:
 * the old runners finish their in-flight apply, then the new set starts from a fresh snapshot. Stopping
 * waits for every in-flight apply.
 */
import type { Target } from '../config/target';
import type { Store } from '../etcd/store';
import { cleanStaged } from './cleanup';
import { Feed, type FeedOptions } from './feed';
import { TargetRunner, type RunnerContext } from './runner';

export class Agent {
  private runners: TargetRunner[];
  private readonly feed: Feed;
  private readonly watches = new Map<TargetRunner, { stop(): void }>();

  constructor(
    private readonly store: Store,
    targets: readonly Target[],
    private readonly ctx: RunnerContext,
    feedOpts: FeedOptions = {},
  ) {
    this.runners = targets.map((t) => new TargetRunner(t, ctx));
    this.feed = new Feed(store, this.runners, ctx.log, feedOpts);
  }

  start(): void {
    cleanStaged(this.runners.map((r) => r.target), this.ctx);
    this.feed.start();
    this.startIntervals();
  }

  /** Plugin targets with no key render on their own interval; Docker targets follow their containers. */
  private startIntervals(): void {
    for (const r of this.runners) {
      if (r.target.docker) void this.watchContainers(r, r.target.docker);
      else if (!r.spec) r.startInterval();
    }
  }

  private async watchContainers(r: TargetRunner, opts: NonNullable<Target['docker']>): Promise<void> {
    // dockerode is loaded only when a target asks for containers.
    const { ContainerWatch } = await import('../docker/watch');
    if (!this.runners.includes(r)) return;
    const w = new ContainerWatch(opts, (list) => r.setContainers(list), this.ctx.log.child({ target: r.target.id }));
    this.watches.set(r, w);
    w.start();
  }

  /** Replaces the set of targets without a restart. */
  async replace(targets: readonly Target[]): Promise<void> {
    const old = this.runners;
    this.stopWatches();
    await Promise.all(old.map((r) => r.stop()));
    this.runners = targets.map((t) => new TargetRunner(t, this.ctx));
    this.ctx.observer?.targets(targets.map((t) => t.id));
    cleanStaged(targets, this.ctx);
    this.feed.replace(this.runners);
    this.startIntervals();
  }

  /** Some runner has an apply pending or running. */
  get busy(): boolean {
    return this.runners.some((r) => r.busy);
  }

  get targets(): Target[] {
    return this.runners.map((r) => r.target);
  }

  private stopWatches(): void {
    for (const w of this.watches.values()) w.stop();
    this.watches.clear();
  }

  /** Stops watching and waits for in-flight applies to finish. */
  async stop(): Promise<void> {
    this.stopWatches();
    await this.feed.stop();
    await Promise.all(this.runners.map((r) => r.stop()));
    this.store.close();
  }
}

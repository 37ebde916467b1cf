/**
 * One runner per target. It holds the target's inputs (inputs.ts: its keys as of the newest revision seen, and
 * whatever its other sources gave) and turns changes into applies: events are triggers, and every apply renders the
 * whole data at one revision. While an apply runs, further changes only mark it stale, so a burst collapses
 * into a few applies that end in the exact final state. When to apply is the Pacer's decision (pace.ts).
 *
 * Its scheduling is one state, `phase`, changed only by `to()`:
 *
 *   waiting --(every input present)--> idle --change--> pending --paced--> applying --done--> idle
 *                                        ^                 ^                  |change
 *                                        |                 +---- stale <------+
 *   any --stop()--> stopped
 *
 * A runner made `manual` (--onetime, sidecar mode's first pass, `reconfig render`) takes its inputs but never
 * schedules: its caller applies it with applyNow(), or renders it with render().
 */
import type { Target } from '../target';
import { PluginError, TargetError } from '../errors';
import type { KeySpec, KV, WatchEvent } from '../etcd/store';
import type { Logger } from '../log';
import { renderTarget } from '../render/target';
import { asApply } from '../apply/sync';
import type { Clock } from '../apply/verify';
import { TargetInputs } from './inputs';
import { applyAndReport, type Carried, type Outcome } from './outcome';
import { Pacer } from './pace';
import type { InputSink, Observer } from './ports';
import type { RolloutContext } from '../rollout/gate';

export type { Outcome } from './outcome';

/** How soon a failed plugin is tried again (or its interval, if shorter). */
const PLUGIN_RETRY_MS = 5000;

export interface RunnerContext {
  /** The global prefix, removed from keys before templates see them. */
  prefix: string;
  notreally: boolean;
  log: Logger;
  /** Where --notreally diffs go (stdout). */
  print: (text: string) => void;
  /** Write files but run no reload (sidecar mode's first pass: the program has not started yet). */
  skipReload?: boolean;
  /** Hears every pending change, apply, failure and settling (metrics, the fleet report, the agent itself). */
  observer: Observer;
  /** The clock the pacing reads, in ms (performance.now() unless a test gives a fake one). */
  now?: () => number;
  /** The clock a verify's loop tells time and waits by (real time unless a test gives a fake one). */
  verifyClock?: Clock;
  /** Sidecar mode: signals the program, as the reload of a target with a verify and no reload of its own. */
  programReload?: () => void;
  /** The agent's rollout wave and where the rollouts are kept (--wave with --report); wire.ts gates on it. */
  rollout?: RolloutContext;
}

export interface RunnerOptions {
  /** Aborting it stops the runner's pacing and plugin runs (the agent's or its set's life). */
  signal?: AbortSignal;
  /** Takes inputs but never schedules an apply (see the header). */
  manual?: boolean;
  /** The inputs it waits for before its first render (the names its sources provide). */
  needs?: readonly string[];
  /** A rollout gate gives its etcd data (loadProven): what the Feed gives is ignored. */
  gated?: boolean;
}

type Phase = 'manual' | 'waiting' | 'idle' | 'pending' | 'applying' | 'stale' | 'stopped';

export class TargetRunner implements InputSink {
  /** What it reads in etcd, its own key first; empty for a target with no key (a plugin on its interval, or containers). */
  readonly specs: readonly KeySpec[];
  private readonly log: Logger;
  private readonly observer: Observer;
  private readonly pace: Pacer;
  private phase: Phase = 'waiting';
  /** Its keys and what its other sources gave (inputs.ts). */
  private readonly inputs: TargetInputs;
  /** How it stands after its last apply, and a render the verify refused (outcome.ts). */
  private carried: Carried = { standing: 'new' };
  private loop: Promise<void> | null = null;
  private retry: NodeJS.Timeout | null = null;
  /** Aborted by stop(), and by the agent's signal: ends pacing and plugin runs. */
  private readonly halt = new AbortController();
  /** Fed by a rollout gate, not by the Feed (see RunnerOptions). */
  readonly gated: boolean;
  /** Why the gate holds it back, while it does. */
  private waitingFor: string | undefined;

  constructor(
    readonly target: Target,
    private readonly ctx: RunnerContext,
    opts: RunnerOptions = {},
  ) {
    this.inputs = new TargetInputs(target, ctx.prefix, opts.needs ?? []);
    this.gated = opts.gated === true;
    this.specs = target.keys;
    this.log = ctx.log.child({ target: target.id, key: target.key, dest: target.dest });
    this.pace = new Pacer(target.wait, { splayMs: target.splayMs, now: ctx.now });
    this.observer = ctx.observer;
    opts.signal?.addEventListener('abort', () => this.halt.abort(), { once: true });
    if (opts.manual) this.to('manual');
  }

  /** It has applied or failed at least once since it started. */
  get tried(): boolean {
    // A gated target that waits for its wave has said where it stands.
    return this.carried.standing !== 'new' || this.waitingFor !== undefined;
  }

  /** A crash came between a swap and its reload (apply/journal.ts): the first apply reloads even if nothing changed. */
  oweReload(): void {
    if (this.carried.standing === 'new') this.carried = { ...this.carried, standing: 'reload-owed' };
  }

  /** An apply is pending (paced or waiting) or running. */
  get busy(): boolean {
    return this.phase === 'pending' || this.phase === 'applying' || this.phase === 'stale';
  }

  /** Replaces the data with a snapshot's (every key of every spec, at one revision), and applies (a no-op when the file already matches). */
  load(kvs: readonly KV[], revision: number): void {
    if (!this.gated) this.take(kvs, revision);
  }

  loadProven(kvs: readonly KV[], revision: number): void {
    if (this.gated) this.take(kvs, revision);
  }

  waiting(message: string | undefined): void {
    this.waitingFor = message;
    this.observer.waiting?.(this.target.id, message);
  }

  private take(kvs: readonly KV[], revision: number): void {
    // The first snapshot renders at once; a resync after an outage waits like any change.
    const first = this.inputs.take(kvs, revision);
    this.pace.changed(this.inputs.data.size, !first);
    this.trigger();
  }

  /** Folds in watch events (see TargetInputs.update); `revision` is the watch's resume point. */
  update(events: readonly WatchEvent[], revision: number): void {
    if (this.gated) return;
    const touched = this.inputs.update(events, revision);
    if (touched) {
      this.pace.changed(touched);
      this.trigger();
    }
  }

  /** A source's input arrived or changed (a Docker target's containers). */
  provide(name: string, value: unknown): void {
    this.inputs.provide(name, value);
    this.pace.changed(1);
    this.trigger();
  }

  /**
   * A source could not get its input. Before it ever gave one the target fails (stage `read`); once it has, the
   * target keeps rendering from the last input, as it keeps the last data through an etcd outage.
   */
  unavailable(name: string, error: Error): void {
    if (this.inputs.unavailable(name, error)) this.trigger();
  }

  /** Render again with the same data: a plugin's interval came round, or a failed plugin is retried. */
  refresh(): void {
    this.trigger();
  }

  private to(next: Phase): void {
    this.phase = next;
  }

  private trigger(): void {
    switch (this.phase) {
      case 'manual':
      case 'stopped':
        return;
      case 'waiting':
        if (!this.inputs.ready) return;
        this.start();
        break;
      case 'idle':
        this.start();
        break;
      case 'applying':
        this.to('stale');
        break;
      case 'pending':
      case 'stale':
        break;
    }
    this.observer.pending(this.target.id);
  }

  private start(): void {
    this.to('pending');
    this.loop = this.run();
  }

  /** The phase now (a method, so that the compiler does not assume it is unchanged across an await). */
  private now(): Phase {
    return this.phase;
  }

  private async run(): Promise<void> {
    try {
      // One turn of the event loop, so that events delivered together make one apply.
      await new Promise((r) => setImmediate(r));
      while (this.now() === 'pending') {
        await this.pace.beforeApply(this.halt.signal);
        if (this.now() !== 'pending') break;
        this.to('applying');
        await this.applyNow();
        this.pace.applied();
        if (this.now() === 'stale') this.to('pending');
        else if (this.now() === 'applying') this.to('idle');
      }
    } finally {
      this.loop = null;
      this.observer.settled(this.target.id);
    }
  }

  /** Renders the inputs held now. Throws TargetError: stage `read` for an input no source could get, else as renderTarget. */
  render(): Promise<string[]> {
    const t = this.target;
    const missing = this.inputs.unavailableInput;
    if (missing) return Promise.reject(new TargetError(t.id, 'read', missing));
    return renderTarget(
      t,
      { data: this.inputs.data, given: this.inputs.given },
      { signal: this.halt.signal, onRendered: (s) => this.observer.rendered(t.id, s) },
    );
  }

  /** Renders the inputs held now and applies them. Never throws: the outcome says what happened. */
  async applyNow(): Promise<Outcome> {
    const revision = this.inputs.revision ?? 0;
    const outcome = await asApply(() =>
      applyAndReport(this.target, revision, () => this.render(), this.carried, { ...this.ctx, log: this.log.child({ revision }), signal: this.halt.signal }),
    );
    this.carried = { standing: outcome.standing, refused: outcome.refused };
    if (outcome.error?.cause instanceof PluginError) this.retryPlugin();
    else if (outcome.ok) this.clearRetry();
    return outcome;
  }

  /** A plugin failure is not fixed by a change in etcd: try again after a while (sooner if the interval is). */
  private retryPlugin(): void {
    if (this.retry || this.phase === 'stopped') return;
    const wait = Math.min(this.target.intervalMs ?? PLUGIN_RETRY_MS, PLUGIN_RETRY_MS);
    this.retry = setTimeout(() => {
      this.retry = null;
      this.refresh();
    }, wait);
  }

  private clearRetry(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
  }

  /** Stops scheduling applies and waits for the one in flight, if any. */
  async stop(): Promise<void> {
    this.to('stopped');
    this.clearRetry();
    this.halt.abort();
    await this.loop;
  }
}

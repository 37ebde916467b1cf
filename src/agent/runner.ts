/**
 * One runner per target. It holds the target's keys as of the newest revision seen, and turns changes into
 * applies: events are triggers, and every apply renders the whole data at one revision. While an apply runs,
 * further changes only mark the runner dirty, so a burst collapses into a few applies that end in the exact
 * final state. When to apply is the Pacer's decision (pace.ts): at once for a lone change, paced in a burst,
 * or debounced by the target's `wait`.
 */
import { applyTarget } from '../apply/pipeline';
import type { Target } from '../config/target';
import { HoldError, TargetError, errorMessage } from '../errors';
import type { KeySpec, KV, WatchEvent } from '../etcd/store';
import { specWants } from '../etcd/store';
import type { Logger } from '../log';
import { TargetData } from '../render/data';
import { assertValues } from '../render/values';
import { runPlugin } from '../render/plugin';
import type { Container } from '../docker/containers';
import { noObserver, type Observer } from './observer';
import { Pacer } from './pace';

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
  /** A target's file was replaced (sidecar mode signals its program). */
  onApplied?: () => void;
  /** A runner has no apply pending or running any more. */
  onSettled?: () => void;
  /** Metrics and health (--listen). */
  observer?: Observer;
}

export interface Outcome {
  id: string;
  ok: boolean;
  changed: boolean;
  reloaded: boolean;
  revision: number;
  error?: TargetError;
}

export class TargetRunner {
  /** What it watches in etcd; undefined for a target with no key (a plugin on its interval, or containers). */
  readonly spec: KeySpec | undefined;
  private readonly log: Logger;
  /** Keys with the global prefix removed, as templates see them. */
  private data: TargetData;
  private revision = 0;
  /** Has data to render: a snapshot, or (without a key) containers or a plugin interval. Never unset. */
  private loaded = false;
  private dirty = false;
  private running: Promise<void> | null = null;
  private stopped = false;
  private reloadPending = false;
  private failing = false;
  private readonly pace: Pacer;
  private readonly observer: Observer;
  private timer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  /** A Docker target's running containers; undefined until the first list arrives. */
  private containers: Container[] | undefined;
  /** The last render failed because of the plugin: try again soon even if nothing changes. */
  private pluginFailed = false;

  constructor(readonly target: Target, private readonly ctx: RunnerContext) {
    this.spec = target.etcdKey === undefined ? undefined : { key: target.etcdKey, recursive: target.recursive };
    this.log = ctx.log.child({ target: target.id, key: target.key, dest: target.dest });
    this.pace = new Pacer(target.wait);
    this.observer = ctx.observer ?? noObserver;
    this.data = new TargetData([], target.checkValue);
  }

  /**
   * Replaces the data with a snapshot's and, unless told not to, applies (a no-op when the file already
   * matches).
   */
  load(kvs: readonly KV[], revision: number, apply = true): void {
    const strip = this.ctx.prefix.length;
    this.data = new TargetData(kvs.map((kv) => [kv.key.slice(strip), kv.value] as const), this.target.checkValue);
    this.revision = revision;
    // The first snapshot renders at once; a resync after an outage waits like any change.
    this.pace.changed(this.data.size, this.loaded);
    this.loaded = true;
    if (apply) this.trigger();
  }

  /** A Docker target's containers changed (or were listed for the first time). */
  setContainers(list: Container[], apply = true): void {
    this.containers = list;
    if (!this.spec) {
      // Without a key, the containers are all the data there is.
      this.loaded = true;
    }
    this.pace.changed(1);
    if (apply) this.trigger();
  }

  /** A plugin target with no key: render now, then every interval. */
  startInterval(): void {
    this.loaded = true;
    this.trigger();
    const every = this.target.intervalMs ?? PLUGIN_RETRY_MS;
    this.timer = setInterval(() => this.trigger(), every);
  }

  /** Folds in watch events; events at or below the revision already held are ignored. */
  update(events: readonly WatchEvent[], revision: number): void {
    let touched = 0;
    for (const e of events) {
      if (e.revision <= this.revision || !this.spec || !specWants(this.spec, e.key)) continue;
      const key = e.key.slice(this.ctx.prefix.length);
      if (e.type === 'put') this.data.set(key, e.value);
      else this.data.delete(key);
      touched += 1;
    }
    if (revision > this.revision) this.revision = revision;
    if (touched) {
      this.pace.changed(touched);
      this.trigger();
    }
  }

  private trigger(): void {
    // A Docker target waits for its first container list as well as for etcd.
    if (this.stopped || !this.loaded || (this.target.docker && !this.containers)) return;
    this.dirty = true;
    this.observer.pending(this.target.id);
    this.running ??= this.loop();
  }

  private async loop(): Promise<void> {
    try {
      // One turn of the event loop, so that events delivered together make one apply.
      await new Promise((r) => setImmediate(r));
      while (this.dirty && !this.stopped) {
        await this.pace.beforeApply();
        if (this.stopped) break;
        this.dirty = false;
        await this.applyNow();
        this.pace.applied();
      }
    } finally {
      this.running = null;
      this.ctx.onSettled?.();
    }
  }

  /** An apply is pending (paced or waiting) or running. */
  get busy(): boolean {
    return this.running !== null;
  }

  /** Renders the data held now and applies it. Never throws: the outcome says what happened. */
  async applyNow(): Promise<Outcome> {
    const t = this.target;
    const revision = this.revision;
    const log = this.log.child({ revision });
    const started = performance.now();
    try {
      this.checkMinkeys();
      assertValues(t.id, this.data);
      const content = await this.render();
      const res = await applyTarget(t, content, {
        notreally: this.ctx.notreally,
        skipReload: this.ctx.skipReload,
        reloadPending: this.reloadPending,
        onOutput: (stage, output) => {
          if (output.trim()) log.debug({ stage, output }, `${stage}cmd output`);
        },
      });
      this.reloadPending = false;
      this.observer.applied(t.id, res.changed);
      const ms = Math.round((performance.now() - started) * 10) / 10;
      if (this.failing) log.info('target recovered');
      this.failing = false;
      if (this.ctx.notreally) {
        this.ctx.print(res.diff ?? `# ${t.id}: ${t.dest} unchanged\n`);
        log.info({ changed: res.changed }, res.changed ? 'would change (not really)' : 'unchanged');
      } else if (res.changed || res.reloaded) {
        log.info({ changed: res.changed, reloaded: res.reloaded, ms }, res.changed ? 'applied' : 'reloaded');
        if (res.changed) this.ctx.onApplied?.();
      } else {
        log.debug('unchanged');
      }
      return { id: t.id, ok: true, changed: res.changed, reloaded: res.reloaded, revision };
    } catch (err) {
      // Every stage wraps its own failures; anything else is a bug in reconfig, logged with its stack.
      const error = err instanceof TargetError ? err : new TargetError(t.id, 'internal', err);
      // The file is in place but the daemon may not have read it: reload again next time.
      if (error.stage === 'reload') this.reloadPending = true;
      this.failing = true;
      this.observer.failed(t.id, error.stage, errorMessage(error.cause));
      if (error.stage === 'internal') {
        log.fatal({ stage: error.stage, err: error.cause }, `internal error (a bug in reconfig); the target keeps its bytes: ${errorMessage(error.cause)}`);
      } else {
        const cause = error.cause as { output?: string; code?: number | null } | undefined;
        const what = error.stage === 'hold' ? 'held' : `${error.stage} failed`;
        log.error(
          { stage: error.stage, err: errorMessage(error.cause), exitCode: cause?.code, output: cause?.output },
          `${what}; ${error.stage === 'reload' ? 'the new file stays' : 'the target keeps its bytes'}`,
        );
      }
      return { id: t.id, ok: false, changed: false, reloaded: false, revision, error };
    }
  }

  /** The guard against an emptied backend wiping a config (consul-template #727, #21, #1713). */
  private checkMinkeys(): void {
    const min = this.target.minkeys;
    if (min === undefined || this.data.size >= min) return;
    throw new TargetError(
      this.target.id,
      'hold',
      new HoldError(`${this.target.key} holds ${this.data.size} key(s), fewer than minkeys ${min}; left untouched`),
    );
  }

  private async render(): Promise<string> {
    const data = this.data.toObject();
    const plugin = this.target.plugin;
    let given: object | undefined;
    if (plugin) {
      try {
        given = await runPlugin(plugin, { target: this.target.id, data }, this.target.timeoutMs);
        this.pluginFailed = false;
      } catch (err) {
        this.retryPlugin();
        throw new TargetError(this.target.id, 'render', err);
      }
    }
    const started = performance.now();
    try {
      return this.target.render(data, { plugin: given, containers: this.containers });
    } catch (err) {
      throw new TargetError(this.target.id, 'render', err);
    } finally {
      this.observer.rendered(this.target.id, (performance.now() - started) / 1000);
    }
  }

  /** A plugin failure is not fixed by a change in etcd: try again after a while (sooner if the interval is). */
  private retryPlugin(): void {
    this.pluginFailed = true;
    if (this.retryTimer || this.stopped) return;
    const wait = Math.min(this.target.intervalMs ?? PLUGIN_RETRY_MS, PLUGIN_RETRY_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.pluginFailed) this.trigger();
    }, wait);
  }

  /** Stops scheduling applies and waits for the one in flight, if any. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.pace.cancel();
    await this.running;
  }
}

/**
 * One runner per target. It holds the target's keys as of the newest revision seen, and turns changes into
 * applies: events are triggers, and every apply renders the whole data at one revision. While an apply runs,
 * further changes only mark the runner dirty, so a burst collapses into a few applies that end in the exact
 * final state. A lone change is applied on the next turn of the event loop; in a burst the pause between
 * applies grows from 5 ms to 50 ms.
 */
import { applyTarget } from '../apply/pipeline';
import type { Target } from '../config/target';
import { TargetError, errorMessage } from '../errors';
import type { KeySpec, KV, WatchEvent } from '../etcd/store';
import { specWants } from '../etcd/store';
import type { Logger } from '../log';
import { TargetData } from '../render/data';

/** The first pause between applies in a burst, and the longest. */
const BURST_GAP_MIN_MS = 5;
const BURST_GAP_MAX_MS = 50;
/** Quiet for this long after an apply, the burst is over and the next change applies at once. */
const BURST_QUIET_MS = 100;

export interface RunnerContext {
  /** The global prefix, removed from keys before templates see them. */
  prefix: string;
  notreally: boolean;
  log: Logger;
  /** Where --notreally diffs go (stdout). */
  print: (text: string) => void;
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
  readonly spec: KeySpec;
  private readonly log: Logger;
  /** Keys with the global prefix removed, as templates see them. */
  private data = new TargetData();
  private revision = 0;
  private loaded = false;
  private dirty = false;
  private running: Promise<void> | null = null;
  private stopped = false;
  private reloadPending = false;
  private failing = false;
  private burstGap = 0;
  /** Changes to the data since the last apply began. */
  private pending = 0;
  private lastApplyEnd = 0;

  constructor(readonly target: Target, private readonly ctx: RunnerContext) {
    this.spec = { key: target.etcdKey, recursive: target.recursive };
    this.log = ctx.log.child({ target: target.id, key: target.key, dest: target.dest });
  }

  /**
   * Replaces the data with a snapshot's and, unless told not to, applies (a no-op when the file already
   * matches).
   */
  load(kvs: readonly KV[], revision: number, apply = true): void {
    const strip = this.ctx.prefix.length;
    this.data = new TargetData(kvs.map((kv) => [kv.key.slice(strip), kv.value] as const));
    this.revision = revision;
    this.loaded = true;
    if (apply) this.trigger();
  }

  /** Folds in watch events; events at or below the revision already held are ignored. */
  update(events: readonly WatchEvent[], revision: number): void {
    let touched = 0;
    for (const e of events) {
      if (e.revision <= this.revision || !specWants(this.spec, e.key)) continue;
      const key = e.key.slice(this.ctx.prefix.length);
      if (e.type === 'put') this.data.set(key, e.value);
      else this.data.delete(key);
      touched += 1;
    }
    if (revision > this.revision) this.revision = revision;
    if (touched) {
      this.pending += touched;
      this.trigger();
    }
  }

  private trigger(): void {
    if (this.stopped || !this.loaded) return;
    this.dirty = true;
    this.running ??= this.loop();
  }

  private async loop(): Promise<void> {
    try {
      // One turn of the event loop, so that events delivered together make one apply.
      await new Promise((r) => setImmediate(r));
      while (this.dirty && !this.stopped) {
        await this.burstPause();
        this.dirty = false;
        this.pending = 0;
        await this.applyNow();
        this.lastApplyEnd = performance.now();
      }
    } finally {
      this.running = null;
    }
  }

  /**
   * In a burst (several changes piled up since an apply that ended moments ago) wait a little before the next
   * apply, a little longer each time up to BURST_GAP_MAX_MS, so that a storm of puts costs a few dozen applies
   * rather than one per etcd commit. The burst ends after BURST_QUIET_MS without an apply. A lone change
   * outside a burst, however soon after the last one, applies at once.
   */
  private async burstPause(): Promise<void> {
    const since = performance.now() - this.lastApplyEnd;
    if (since > BURST_QUIET_MS) this.burstGap = 0;
    if (this.burstGap === 0 && (this.pending < 2 || since > BURST_QUIET_MS)) return;
    this.burstGap = Math.min(BURST_GAP_MAX_MS, this.burstGap ? this.burstGap * 2 : BURST_GAP_MIN_MS);
    if (since < this.burstGap) await new Promise((r) => setTimeout(r, this.burstGap - since));
  }

  /** Renders the data held now and applies it. Never throws: the outcome says what happened. */
  async applyNow(): Promise<Outcome> {
    const t = this.target;
    const revision = this.revision;
    const log = this.log.child({ revision });
    const started = performance.now();
    try {
      const content = this.render();
      const res = await applyTarget(t, content, {
        notreally: this.ctx.notreally,
        reloadPending: this.reloadPending,
        onOutput: (stage, output) => {
          if (output.trim()) log.debug({ stage, output }, `${stage}cmd output`);
        },
      });
      this.reloadPending = false;
      const ms = Math.round((performance.now() - started) * 10) / 10;
      if (this.failing) log.info('target recovered');
      this.failing = false;
      if (this.ctx.notreally) {
        this.ctx.print(res.diff ?? `# ${t.id}: ${t.dest} unchanged\n`);
        log.info({ changed: res.changed }, res.changed ? 'would change (not really)' : 'unchanged');
      } else if (res.changed || res.reloaded) {
        log.info({ changed: res.changed, reloaded: res.reloaded, ms }, res.changed ? 'applied' : 'reloaded');
      } else {
        log.debug('unchanged');
      }
      return { id: t.id, ok: true, changed: res.changed, reloaded: res.reloaded, revision };
    } catch (err) {
      const error = err instanceof TargetError ? err : new TargetError(t.id, 'render', err);
      // The file is in place but the daemon may not have read it: reload again next time.
      if (error.stage === 'reload') this.reloadPending = true;
      this.failing = true;
      const cause = error.cause as { output?: string; code?: number | null } | undefined;
      log.error(
        { stage: error.stage, err: errorMessage(error.cause), exitCode: cause?.code, output: cause?.output },
        `${error.stage} failed; ${error.stage === 'reload' ? 'the new file stays' : 'the target keeps its bytes'}`,
      );
      return { id: t.id, ok: false, changed: false, reloaded: false, revision, error };
    }
  }

  private render(): string {
    try {
      return this.target.render(this.data.toObject());
    } catch (err) {
      throw new TargetError(this.target.id, 'render', err);
    }
  }

  /** Stops scheduling applies and waits for the one in flight, if any. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  /** Resolves when no apply is running or pending. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }
}

/**
 * The runner's ports: what feeds it (a Source delivers into an InputSink) and who hears what it does (an
 * Observer). Sources, the Feed, metrics, the fleet report and sidecar mode's batcher all meet the runner here,
 * and nowhere else.
 */
import type { TargetError } from '../errors';
import type { KV } from '../etcd/store';

/** Where a source delivers: a runner. */
export interface InputSink {
  /** The source's input `name` is now `value` (the first time, then each change). */
  provide(name: string, value: unknown): void;
  /**
   * The source could not get input `name` (a Docker socket that cannot be reached). The target fails at stage
   * `read` until the input is provided; the error is reported once, not once per retry of the source.
   */
  unavailable(name: string, error: Error): void;
  /** Something outside etcd may have changed (a plugin's interval came round): render again. */
  refresh(): void;
  /**
   * A rollout gate's input (src/rollout/gate.ts): the target's keys as of `revision`, a revision the wave before
   * proved. For a gated runner they replace what the Feed gives, which it ignores.
   */
  loadProven(kvs: readonly KV[], revision: number): void;
  /** Why a gated target does not take newer data now (its wave waits), or undefined once it does. */
  waiting(message: string | undefined): void;
}

/**
 * What feeds a runner besides etcd (remco's backends, Kubernetes' informers): input given once (`prime`:
 * --onetime, sidecar mode's first pass, `reconfig render`) or as it changes (`follow`: the watching agent).
 */
export interface Source {
  /** The template name of the input it gives, which the target waits for before its first render; none for a timer. */
  readonly provides?: string;
  /** Gives the sink its input once, now; rejects when it cannot. */
  prime(sink: InputSink): Promise<void>;
  /** Keeps giving the sink input as it changes, until `signal` aborts; failures go to sink.unavailable(). */
  follow(sink: InputSink, signal: AbortSignal): void;
}

/** The watch is up again (or for the first time). */
export interface Sync {
  /** What the agent holds now: every change up to this revision. */
  revision: number;
  /** Why it (re)started: the agent's start, an outage, or a resync (--resync, SIGHUP, a watch etcd cancelled). */
  after: 'start' | 'outage' | 'resync';
  /** A fresh snapshot that read `keys` keys, or a watch resumed where the last one stopped, reading none. */
  how: 'snapshot' | 'resume';
  keys: number;
}

/**
 * Everything the agent tells as it works: the one hook for metrics and health (--listen), the fleet report
 * (--report), sidecar mode's signal batching and the agent's own readiness. Without any of them these do nothing.
 */
export interface Observer {
  /** New data for the target has arrived and is not applied yet. */
  pending(id: string): void;
  /**
   * An apply succeeded: the file holds what `revision` says (changed: it was replaced). `content` is the file's
   * text, for whoever needs its digest (the fleet report); keep it only as long as that needs. `note` says why
   * the files are not what the data renders (held at a version by `reconfig rollback`), and `heldFrom` the
   * revision that rollback by hand went back from, when the hold says.
   */
  applied(id: string, changed: boolean, revision: number, content: string, note?: string, heldFrom?: number): void;
  /** An apply failed at `stage` (or was held by a guard, stage "hold"). */
  failed(id: string, stage: TargetError['stage'], message: string): void;
  /**
   * The verify failed after `revision` was applied, and the previous files are back and pass it: the target
   * holds its old files until its data renders differently. `output` is the verify's own.
   */
  rolledBack(id: string, revision: number, message: string, output: string): void;
  /** The target has no apply pending or running any more. */
  settled(id: string): void;
  rendered(id: string, seconds: number): void;
  synced(sync: Sync): void;
  disconnected(reason: string): void;
  events(count: number, revision: number): void;
  /** The set of targets is now exactly these (after SIGHUP). */
  targets(ids: readonly string[]): void;
  /** A rollout gate holds the target at its file (message: why), or lets it take data again (undefined). */
  waiting?(id: string, message: string | undefined): void;
}

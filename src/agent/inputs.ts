/**
 * What a target renders from, as its runner holds it: its keys as of the newest revision seen (with the global
 * prefix removed, as templates see them), and whatever its other sources gave or could not get. Pure
 * bookkeeping: when to apply is the runner's business (runner.ts).
 */
import type { KeySpec, KV, WatchEvent } from '../etcd/store';
import { specWants } from '../etcd/store';
import { TargetData } from '../render/data';
import type { Target } from '../target';

export class TargetInputs {
  /** Keys with the global prefix removed, as templates see them. */
  data: TargetData;
  /** The revision of the data; undefined until the first snapshot (for a target with a key). */
  revision: number | undefined;
  /** What the target's sources gave, by template name (`containers`). */
  readonly given = new Map<string, unknown>();
  /** Inputs a source could not get and never gave: the target fails at stage `read` while there is one. */
  private readonly missing = new Map<string, Error>();

  constructor(
    private readonly target: Pick<Target, 'keys' | 'checkValue'>,
    private readonly prefix: string,
    /** The inputs it waits for before its first render (the names its sources provide). */
    private readonly needs: readonly string[],
  ) {
    this.data = new TargetData([], target.checkValue);
    this.revision = target.keys.length > 0 ? undefined : 0;
  }

  get specs(): readonly KeySpec[] {
    return this.target.keys;
  }

  /** Every input is present, or known to be unavailable (then the apply fails). */
  get ready(): boolean {
    return this.revision !== undefined && this.needs.every((n) => this.given.has(n) || this.missing.has(n));
  }

  /** An input no source could get, if any. */
  get unavailableInput(): Error | undefined {
    return [...this.missing.values()][0];
  }

  /** Replaces the data with a snapshot's (every key of every spec, at one revision). True for the first one. */
  take(kvs: readonly KV[], revision: number): boolean {
    const first = this.revision === undefined;
    const strip = this.prefix.length;
    this.data = new TargetData(kvs.map((kv) => [kv.key.slice(strip), kv.value] as const), this.target.checkValue);
    this.revision = revision;
    return first;
  }

  /**
   * Folds in watch events; returns how many touched this target. `revision` is the watch's resume point (every
   * change up to it delivered). Events at or below the revision already held are ignored: a resumed watch may
   * replay a few this runner has seen, and what it holds is never more than it was provably given.
   */
  update(events: readonly WatchEvent[], revision: number): number {
    if (this.revision === undefined) return 0;
    const held = this.revision;
    let newest = Math.max(held, revision);
    let touched = 0;
    for (const e of events) {
      if (e.revision <= held || !this.specs.some((s) => specWants(s, e.key))) continue;
      const key = e.key.slice(this.prefix.length);
      if (e.type === 'put') this.data.set(key, e.value);
      else this.data.delete(key);
      touched += 1;
      newest = Math.max(newest, e.revision);
    }
    this.revision = newest;
    return touched;
  }

  provide(name: string, value: unknown): void {
    this.given.set(name, value);
    this.missing.delete(name);
  }

  /** A source could not get its input: recorded (true) only if it never gave one (the last one is kept otherwise). */
  unavailable(name: string, error: Error): boolean {
    if (this.given.has(name)) return false;
    this.missing.set(name, error);
    return true;
  }
}

/**
 * The data of one target, kept ready to render: keys in sorted order with their values beside them,
 * maintained as keys come and go, so that a render of 100,000 keys neither sorts nor looks anything up.
 */
import type { Data, ValueCheck, ValueProblem } from '../target';

export class TargetData {
  /** Sorted by UTF-16 code unit, which is etcd's byte order for all but astral characters. */
  private readonly keys: string[];
  private readonly values: string[];
  /** The keys whose key or value `check` refuses, kept up to date as keys come and go. */
  private readonly problems = new Map<string, ValueProblem>();

  constructor(
    entries: Iterable<readonly [string, string]> = [],
    private readonly check?: ValueCheck,
  ) {
    const byKey = new Map(entries);
    this.keys = [...byKey.keys()].sort();
    this.values = this.keys.map((k) => byKey.get(k)!);
    if (check) this.keys.forEach((k, i) => this.recheck(k, this.values[i]));
  }

  /**
   * The refused key to report, if any (the target must not render while there is one): a control character
   * before a broken rule, then the first in key order.
   */
  problem(): ValueProblem | undefined {
    const rank = (p: ValueProblem): number => (p.kind === 'control' ? 0 : 1);
    let first: ValueProblem | undefined;
    for (const p of this.problems.values()) {
      if (!first || rank(p) < rank(first) || (rank(p) === rank(first) && p.key < first.key)) first = p;
    }
    return first;
  }

  /** How many keys are refused now. */
  get refused(): number {
    return this.problems.size;
  }

  private recheck(key: string, value: string | undefined): void {
    const p = value === undefined ? undefined : this.check?.(key, value);
    if (p) this.problems.set(key, p);
    else this.problems.delete(key);
  }

  get size(): number {
    return this.keys.length;
  }

  set(key: string, value: string): void {
    const i = this.search(key);
    if (this.keys[i] === key) {
      this.values[i] = value;
    } else {
      this.keys.splice(i, 0, key);
      this.values.splice(i, 0, value);
    }
    this.recheck(key, value);
  }

  delete(key: string): void {
    const i = this.search(key);
    if (this.keys[i] !== key) return;
    this.keys.splice(i, 1);
    this.values.splice(i, 1);
    this.recheck(key, undefined);
  }

  /** `reconfigdata`: a fresh plain object, iterated in key order. */
  toObject(): Data {
    const out: Record<string, string> = {};
    const { keys, values } = this;
    for (let i = 0; i < keys.length; i++) out[keys[i]] = values[i]!;
    return out;
  }

  /** The index of `key` in keys, or where it would go. */
  private search(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

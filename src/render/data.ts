/**
 * The data of one target, kept ready to render: keys in sorted order with their values beside them,
 * maintained as keys come and go, so that a render of 100,000 keys neither sorts nor looks anything up.
 */
import type { Data } from './helpers';

export class TargetData {
  /** Sorted by UTF-16 code unit, which is etcd's byte order for all but astral characters. */
  private readonly keys: string[];
  private readonly values: string[];

  constructor(entries: Iterable<readonly [string, string]> = []) {
    const byKey = new Map(entries);
    this.keys = [...byKey.keys()].sort();
    this.values = this.keys.map((k) => byKey.get(k)!);
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
  }

  delete(key: string): void {
    const i = this.search(key);
    if (this.keys[i] !== key) return;
    this.keys.splice(i, 1);
    this.values.splice(i, 1);
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

/**
 * The data of one target, kept ready to render: values by key, and the keys in sorted order, maintained as
 * keys come and go so that a render of 100,000 keys does not sort them again.
 */
import type { Data } from './helpers';

export class TargetData {
  private readonly values = new Map<string, string>();
  /** Sorted by UTF-16 code unit, which is etcd's byte order for all but astral characters. */
  private readonly keys: string[] = [];

  constructor(entries: Iterable<readonly [string, string]> = []) {
    for (const [k, v] of entries) this.values.set(k, v);
    this.keys.push(...this.values.keys());
    this.keys.sort();
  }

  get size(): number {
    return this.values.size;
  }

  set(key: string, value: string): void {
    if (!this.values.has(key)) this.keys.splice(this.search(key), 0, key);
    this.values.set(key, value);
  }

  delete(key: string): void {
    if (!this.values.delete(key)) return;
    this.keys.splice(this.search(key), 1);
  }

  /** `reconfigdata`: a fresh plain object, iterated in key order. */
  toObject(): Data {
    const out: Record<string, string> = {};
    for (const k of this.keys) out[k] = this.values.get(k)!;
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

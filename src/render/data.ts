/** Builds `reconfigdata` for one target from the key-values read for it. */
import type { Data } from './helpers';

/**
 * Returns a plain object, iterated in key order, mapping each key (with the global prefix removed) to its value.
 * `kvs` holds full etcd keys.
 */
export function buildData(kvs: ReadonlyMap<string, string>, prefix: string): Data {
  const keys = [...kvs.keys()].sort(byteOrder);
  const out: Record<string, string> = {};
  for (const k of keys) out[k.slice(prefix.length)] = kvs.get(k)!;
  return out;
}

/** etcd orders keys by bytes; for our purposes UTF-16 order matches it except for astral characters. */
function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

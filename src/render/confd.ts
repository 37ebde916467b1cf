/**
 * The `confd` template local: confd's template functions with confd's semantics, over the target's data, for
 * templates that `reconfig import confd` translated from Go. `confd.at(prefix)` gives the same functions with
 * keys relative to a confd per-resource prefix (confd strips it before the template sees a key).
 *
 * Where confd's semantics are odd they are kept on purpose (a translated template must write what confd
 * wrote): `getvs` sorts values, not keys; `ls` of a key that holds a value gives its base name; `lsdir` and
 * `ls` of "/" miss what confd misses. DNS (lookupIP, lookupSRV) answers come from the render's lookup table
 * (confd-dns.ts, lookup.ts): the render itself stays synchronous and does no I/O.
 */
import { confdDns, DNS_FUNCTIONS } from './confd-dns';
import { fail, markKVPairs, pure, str } from './confd-functions';
import { outsideScope, type Data } from './helpers';
import type { Scope } from '../target';
import * as gopath from './go/path';
import { KVPair, compareBytes } from './go/value';
import { Lookups } from './lookup';

/** The per-data store, built once per prefix: keys as confd's memkv holds them, in byte order. */
class Store {
  readonly keys: string[];
  readonly values = new Map<string, string>();
  constructor(
    data: Data,
    readonly prefix: string,
    readonly scope: readonly Scope[],
  ) {
    for (const [k, v] of Object.entries(data)) {
      const rel = prefix !== '/' && k.startsWith(prefix) ? k.slice(prefix.length) : k;
      this.values.set(gopath.join('/', rel), v);
    }
    this.keys = [...this.values.keys()].sort(compareBytes);
  }
}

function functions(store: Store) {
  const has = (k: string): boolean => store.values.has(k);
  /** A missing key: confd's "key does not exist", unless the key lies outside the target's keys (then say so). */
  const missing = (fn: string, k: string): never => {
    const full = store.prefix === '/' ? k : gopath.join(store.prefix, k);
    return fail(fn, outsideScope(full, store.scope) ?? `key does not exist: ${k}`);
  };
  const matching = (fn: string, pattern: string): string[] => {
    try {
      return store.keys.filter((k) => gopath.match(pattern, k));
    } catch (err) {
      throw new Error(`error calling ${fn}: ${(err as Error).message}`, { cause: err });
    }
  };
  const terms = (p: string): string[] => gopath.clean(p).split('/');
  const samePrefix = (prefix: string[], t: string[]): boolean => t.length >= prefix.length && prefix.every((p, i) => p === t[i]);
  return {
    get(key: unknown): KVPair {
      const k = str('get', key);
      if (!has(k)) missing('get', k);
      return new KVPair(k, store.values.get(k)!);
    },
    // memkv.KVPairs, a named type, which confd's reverse does not recognise (it reverses []memkv.KVPair).
    gets: (pattern: unknown): KVPair[] => markKVPairs(matching('gets', str('gets', pattern)).map((k) => new KVPair(k, store.values.get(k)!))),
    getv(key: unknown, ...fallback: unknown[]): string {
      const k = str('getv', key);
      if (has(k)) return store.values.get(k)!;
      if (fallback.length > 0) return str('getv', fallback[0]);
      return missing('getv', k);
    },
    getvs: (pattern: unknown): string[] => matching('getvs', str('getvs', pattern)).map((k) => store.values.get(k)!).sort(compareBytes),
    exists: (key: unknown): boolean => has(str('exists', key)),
    ls(filePath: unknown): string[] {
      const p = str('ls', filePath);
      const prefix = terms(p);
      const names = new Set<string>();
      for (const k of store.keys) {
        if (k === p) names.add(gopath.base(k));
        else if (samePrefix(prefix, terms(gopath.dir(k)))) names.add(k.replace(p, '').replace(/^\//, '').split('/')[0]);
      }
      return [...names].sort(compareBytes);
    },
    lsdir(filePath: unknown): string[] {
      const p = str('lsdir', filePath);
      const prefix = terms(p);
      const names = new Set<string>();
      for (const k of store.keys) {
        if (!k.startsWith(p)) continue;
        const items = terms(gopath.dir(k));
        if (samePrefix(prefix, items) && items.length - prefix.length >= 1) names.add(items[prefix.length]);
      }
      return [...names].sort(compareBytes);
    },
  };
}

/** The names of confd's functions that translated templates may call. */
export const CONFD_FUNCTIONS: readonly string[] = [...Object.keys(pure), 'get', 'gets', 'getv', 'getvs', 'exists', 'ls', 'lsdir', ...DNS_FUNCTIONS];

export type ConfdFunctions = typeof pure & ReturnType<typeof functions> & ReturnType<typeof confdDns>;
export type Confd = ConfdFunctions & { at(prefix: string): Confd };

/**
 * The `confd` local over one render's data; the store is built on first use, once per prefix. With `scope` (the
 * target's keys), a key that `getv` or `get` cannot find names them when it lies outside all of them. DNS
 * answers come from `lookups`, the render's table.
 */
export function makeConfd(data: Data, scope: readonly Scope[] = [], lookups = new Lookups()): Confd {
  const byPrefix = new Map<string, Confd>();
  const dns = confdDns(lookups);
  const at = (prefix: string): Confd => {
    const p = prefix === '' || prefix === '/' ? '/' : prefix.startsWith('/') ? prefix : `/${prefix}`;
    let c = byPrefix.get(p);
    if (!c) {
      let fns: ReturnType<typeof functions> | undefined;
      const lazy = (): ReturnType<typeof functions> => (fns ??= functions(new Store(data, p, scope)));
      c = {
        ...pure,
        ...dns,
        get: (k) => lazy().get(k),
        gets: (k) => lazy().gets(k),
        getv: (k, ...d) => lazy().getv(k, ...d),
        getvs: (k) => lazy().getvs(k),
        exists: (k) => lazy().exists(k),
        ls: (k) => lazy().ls(k),
        lsdir: (k) => lazy().lsdir(k),
        at,
      };
      byPrefix.set(p, c);
    }
    return c;
  };
  return at('/');
}

/**
 * The helpers a template sees beside `reconfigdata`. All take keys as they appear in reconfigdata (the full
 * etcd key without the global --prefix); a trailing slash is ignored.
 */
import type { Data, Scope } from '../target';
import { Lookups } from './lookup';

export type { Data } from '../target';

export interface Child {
  /** The full key, as in reconfigdata. */
  key: string;
  /** The last path segment. */
  name: string;
  value: string;
}

export interface Helpers {
  get(key: string, fallback?: string): string;
  exists(key: string): boolean;
  children(key: string): Child[];
  ls(key: string): string[];
  json(key: string, fallback?: unknown): unknown;
  /** The addresses of a host name (IPv4 and IPv6, /etc/hosts too), sorted; [] when the name does not exist. */
  lookupIP(name: string): string[];
  /** The SRV records of a full record name (`_etcd-client._tcp.example.com`), by target, port, priority, weight. */
  lookupSRV(name: string): Srv[];
}

/** One SRV record: `target` without a trailing dot. */
export interface Srv {
  target: string;
  port: number;
  priority: number;
  weight: number;
}

export const HELPER_NAMES = ['get', 'exists', 'children', 'ls', 'json', 'lookupIP', 'lookupSRV'] as const;

function bySrv(a: Srv, b: Srv): number {
  if (a.target !== b.target) return a.target < b.target ? -1 : 1;
  return a.port - b.port || a.priority - b.priority || a.weight - b.weight;
}

function dir(key: string): string {
  return key.endsWith('/') ? key : `${key}/`;
}

function trim(key: string): string {
  return key.length > 1 && key.endsWith('/') ? key.slice(0, -1) : key;
}

/** True when the key `k` can hold data of a target reading `scope` (or lies above one of its keys, for a listing). */
function inScope(k: string, scope: readonly Scope[], listing: boolean): boolean {
  return scope.some((s) => {
    const base = s.local === '/' ? '' : s.local;
    if (k === s.local || (s.recursive && k.startsWith(`${base}/`))) return true;
    return listing && (k === '/' || base.startsWith(`${k}/`));
  });
}

/** Why the key `k` cannot be read by a target reading `scope` (naming its keys), or undefined when it can. */
export function outsideScope(k: string, scope: readonly Scope[], listing = false): string | undefined {
  if (scope.length === 0 || inScope(k, scope, listing)) return undefined;
  const keys = scope.map((s) => s.local).join(', ');
  return `${k} lies outside this target's keys (${keys}): add it to the target's "keys" to read it`;
}

/**
 * The helpers over `data`. With `scope` (the target's keys), a key outside every one of them is an error that
 * names them: a template reading `/global/maxconn` while the target reads only `/services/web` fails with a
 * message that says why, not with a bare "not found". DNS answers come from `lookups`, the render's table.
 */
export function makeHelpers(data: Data, scope: readonly Scope[] = [], lookups = new Lookups()): Helpers {
  const has = (key: string): boolean => Object.prototype.hasOwnProperty.call(data, key);
  const check = (k: string, listing = false): void => {
    const outside = outsideScope(k, scope, listing);
    if (outside) throw new Error(outside);
  };
  return {
    get(key, fallback) {
      const k = trim(key);
      if (has(k)) return data[k];
      check(k);
      if (fallback !== undefined) return fallback;
      throw new Error(`key not found: ${k} (give a default: get(${JSON.stringify(k)}, "..."))`);
    },
    exists: (key) => {
      const k = trim(key);
      if (has(k)) return true;
      check(k);
      return false;
    },
    children(key) {
      check(trim(key), true);
      const p = dir(key);
      const out: Child[] = [];
      for (const k of Object.keys(data)) {
        if (k.startsWith(p) && k.length > p.length && !k.includes('/', p.length)) {
          out.push({ key: k, name: k.slice(p.length), value: data[k] });
        }
      }
      return out;
    },
    ls(key) {
      check(trim(key), true);
      const p = dir(key);
      const names = new Set<string>();
      for (const k of Object.keys(data)) {
        if (k.startsWith(p) && k.length > p.length) {
          const end = k.indexOf('/', p.length);
          names.add(end < 0 ? k.slice(p.length) : k.slice(p.length, end));
        }
      }
      return [...names].sort();
    },
    json(key, fallback) {
      const k = trim(key);
      if (!has(k)) {
        check(k);
        if (fallback !== undefined) return fallback;
        throw new Error(`key not found: ${k}`);
      }
      try {
        return JSON.parse(data[k]) as unknown;
      } catch (err) {
        throw new Error(`value of ${k} is not JSON: ${(err as Error).message}`, { cause: err });
      }
    },
    lookupIP: (name) => lookups.ip(name),
    lookupSRV: (name) => lookups.srv(name).map((r) => ({ target: r.name, port: r.port, priority: r.priority, weight: r.weight })).sort(bySrv),
  };
}

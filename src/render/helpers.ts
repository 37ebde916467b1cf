/**
 * The helpers a template sees beside `reconfigdata`. All take keys as they appear in reconfigdata (the full
 * etcd key without the global --prefix); a trailing slash is ignored.
 */
import type { Data } from '../target';

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
}

export const HELPER_NAMES = ['get', 'exists', 'children', 'ls', 'json'] as const;

function dir(key: string): string {
  return key.endsWith('/') ? key : `${key}/`;
}

function trim(key: string): string {
  return key.length > 1 && key.endsWith('/') ? key.slice(0, -1) : key;
}

export function makeHelpers(data: Data): Helpers {
  const has = (key: string): boolean => Object.prototype.hasOwnProperty.call(data, key);
  return {
    get(key, fallback) {
      const k = trim(key);
      if (has(k)) return data[k];
      if (fallback !== undefined) return fallback;
      throw new Error(`key not found: ${k} (give a default: get(${JSON.stringify(k)}, "..."))`);
    },
    exists: (key) => has(trim(key)),
    children(key) {
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
        if (fallback !== undefined) return fallback;
        throw new Error(`key not found: ${k}`);
      }
      try {
        return JSON.parse(data[k]) as unknown;
      } catch (err) {
        throw new Error(`value of ${k} is not JSON: ${(err as Error).message}`, { cause: err });
      }
    },
  };
}

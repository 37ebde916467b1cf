/**
 * confd's template functions that do not read the data (strings, paths, JSON, numbers, base64, sorting, the
 * environment, the clock), with confd's semantics and Go's words in their errors. Part of the `confd` local.
 */
import { statSync } from 'node:fs';
import * as gopath from './go/path';
import { base64Decode } from './go/base64';
import { GoTime } from './go/time';
import { GoFloat, KVPair, goType, isMap, markAnySlice } from './go/value';

const KV_PAIRS = Symbol('memkv.KVPairs');

export function markKVPairs(a: KVPair[]): KVPair[] {
  Object.defineProperty(a, KV_PAIRS, { value: true });
  return a;
}

function isKVPairs(a: unknown[]): boolean {
  return (a as unknown as Record<symbol, unknown>)[KV_PAIRS] === true;
}

export function fail(fn: string, message: string): never {
  throw new Error(`error calling ${fn}: ${message}`);
}

export function str(fn: string, v: unknown): string {
  if (typeof v === 'string') return v;
  throw new Error(v === undefined || v === null ? `${fn}: invalid value; expected string` : `${fn}: wrong type for value; expected string; got ${goType(v)}`);
}

function int(fn: string, v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw new Error(v === undefined || v === null ? `${fn}: invalid value; expected int` : `${fn}: wrong type for value; expected int; got ${goType(v)}`);
}

function strings(fn: string, v: unknown): string[] {
  if (Array.isArray(v) && v.every((e) => typeof e === 'string')) return v;
  throw new Error(`${fn}: wrong type for value; expected []string; got ${goType(v)}`);
}

/** JSON as Go's encoding/json gives it to an interface{}: numbers are float64. */
function fromJson(fn: string, s: string): unknown {
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch (err) {
    throw new Error(`error calling ${fn}: ${(err as Error).message}`, { cause: err });
  }
  const box = (x: unknown): unknown => {
    if (typeof x === 'number') return new GoFloat(x);
    if (Array.isArray(x)) return markAnySlice(x.map(box));
    if (isMap(x)) return Object.fromEntries(Object.entries(x).map(([k, e]) => [k, box(e)]));
    return x;
  };
  return box(v);
}

/** The word encoding/json's UnmarshalTypeError uses for a JSON value's kind. */
function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (v instanceof GoFloat) return 'number';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  return typeof v === 'string' ? 'string' : 'object';
}

// Ints are JS numbers here: exact up to 2^53, where Go's int64 goes on (and wraps at 2^63). Past it a render
// fails rather than write a number that confd would not (as the import refuses such a constant).
const INEXACT = 'is beyond what reconfig computes exactly (2^53)';

/** Go's strconv.Atoi: an optional sign and decimal digits, within int64 (and within 2^53 here). */
function atoi(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) fail('atoi', `strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = BigInt(s);
  if (n > 2n ** 63n - 1n || n < -(2n ** 63n)) fail('atoi', `strconv.Atoi: parsing ${JSON.stringify(s)}: value out of range`);
  if (!Number.isSafeInteger(Number(n))) fail('atoi', `${s} ${INEXACT}`);
  return Number(n);
}

// Unicode's simple mappings where JS's toUpperCase/toLowerCase give more than one character: Greek with
// ypogegrammeni upper-cases to its titlecase form, and U+0130 lower-cases to a plain i; everything else that
// JS expands (ß, ŉ, ligatures, ...) has no simple mapping and stays as it is.
const SIMPLE_UPPER = new Map<string, string>([
  ...[0x1f80, 0x1f90, 0x1fa0].flatMap((base) => Array.from({ length: 8 }, (_, k): [string, string] => [String.fromCodePoint(base + k), String.fromCodePoint(base + 8 + k)])),
  ['\u1fb3', '\u1fbc'],
  ['\u1fc3', '\u1fcc'],
  ['\u1ff3', '\u1ffc'],
]);
const SIMPLE_LOWER = new Map([['\u0130', 'i']]);

/** strings.ToUpper and ToLower: rune by rune, by Unicode's simple mappings (no ß -> SS, no final sigma). */
function mapRunes(s: string, upper: boolean): string {
  let out = '';
  for (const c of s) {
    const m = upper ? c.toUpperCase() : c.toLowerCase();
    out += m.length === c.length || [...m].length === 1 ? m : ((upper ? SIMPLE_UPPER : SIMPLE_LOWER).get(c) ?? c);
  }
  return out;
}

function parseBool(s: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return fail('parseBool', `strconv.ParseBool: parsing ${JSON.stringify(s)}: invalid syntax`);
}

/** strings.Replace: n < 0 replaces all; an empty `old` matches before each character and at the end. */
function replace(s: string, old: string, repl: string, n: number): string {
  if (n === 0 || old === repl) return s;
  const parts = old === '' ? ['', ...[...s]] : s.split(old);
  if (old === '') parts.push('');
  let out = parts[0];
  for (let i = 1; i < parts.length; i++) out += (n < 0 || i <= n ? repl : old) + parts[i];
  return out;
}

function arith(fn: string, f: (a: number, b: number) => number) {
  return (a: unknown, b: unknown): number => {
    const x = int(fn, a);
    const y = int(fn, b);
    const r = f(x, y);
    if (!Number.isSafeInteger(r)) fail(fn, `${fn} ${x} ${y} ${INEXACT}`);
    return r;
  };
}

/** confd's functions that do not read the data. */
export const pure = {
  base: (p: unknown): string => gopath.base(str('base', p)),
  dir: (p: unknown): string => gopath.dir(str('dir', p)),
  split(s: unknown, sep: unknown): string[] {
    const a = str('split', s);
    const b = str('split', sep);
    return b === '' ? [...a] : a.split(b);
  },
  join: (a: unknown, sep: unknown): string => strings('join', a).join(str('join', sep)),
  toUpper: (s: unknown): string => mapRunes(str('toUpper', s), true),
  toLower: (s: unknown): string => mapRunes(str('toLower', s), false),
  contains: (s: unknown, sub: unknown): boolean => str('contains', s).includes(str('contains', sub)),
  replace: (s: unknown, old: unknown, repl: unknown, n: unknown): string =>
    replace(str('replace', s), str('replace', old), str('replace', repl), int('replace', n)),
  trimSuffix(s: unknown, suffix: unknown): string {
    const a = str('trimSuffix', s);
    const b = str('trimSuffix', suffix);
    return b !== '' && a.endsWith(b) ? a.slice(0, a.length - b.length) : a;
  },
  /** A JSON null is Go's nil map, which prints as map[] and ranges over nothing, as an empty one does. */
  json(s: unknown): unknown {
    const v = fromJson('json', str('json', s));
    if (v === null) return {};
    if (!isMap(v)) fail('json', `json: cannot unmarshal ${jsonKind(v)} into Go value of type map[string]interface {}`);
    return v;
  },
  /** A JSON null is Go's nil slice: `[]`, like an empty one. */
  jsonArray(s: unknown): unknown {
    const v = fromJson('jsonArray', str('jsonArray', s));
    if (v === null) return markAnySlice([]);
    if (!Array.isArray(v)) fail('jsonArray', `json: cannot unmarshal ${jsonKind(v)} into Go value of type []interface {}`);
    return v;
  },
  map(...kv: unknown[]): Record<string, unknown> {
    if (kv.length % 2 !== 0) fail('map', 'invalid map call');
    const out: Record<string, unknown> = {};
    for (let i = 0; i < kv.length; i += 2) {
      if (typeof kv[i] !== 'string') fail('map', 'map keys must be strings');
      out[kv[i] as string] = kv[i + 1];
    }
    return out;
  },
  getenv(key: unknown, ...fallback: unknown[]): string {
    const v = process.env[str('getenv', key)] ?? '';
    return v === '' && fallback.length > 0 ? str('getenv', fallback[0]) : v;
  },
  datetime: (): GoTime => GoTime.now(),
  atoi: (s: unknown): number => atoi(str('atoi', s)),
  add: arith('add', (a, b) => a + b),
  sub: arith('sub', (a, b) => a - b),
  mul: arith('mul', (a, b) => a * b),
  div: arith('div', (a, b) => (b === 0 ? fail('div', 'runtime error: integer divide by zero') : Math.trunc(a / b))),
  mod: arith('mod', (a, b) => (b === 0 ? fail('mod', 'runtime error: integer divide by zero') : a % b)),
  seq(first: unknown, last: unknown): number[] {
    const out: number[] = [];
    for (let i = int('seq', first); i <= int('seq', last); i++) out.push(i);
    return out;
  },
  base64Encode: (s: unknown): string => Buffer.from(str('base64Encode', s)).toString('base64'),
  base64Decode: (s: unknown): string => base64Decode(str('base64Decode', s)),
  parseBool: (s: unknown): boolean => parseBool(str('parseBool', s)),
  /**
   * In place, as confd does, for []string and []memkv.KVPair; any other slice (jsonArray's, seq's, and gets'
   * memkv.KVPairs) is left as it is.
   */
  reverse(v: unknown): unknown {
    if (Array.isArray(v) && (goType(v) === '[]string' || (goType(v) === '[]memkv.KVPair' && !isKVPairs(v)))) v.reverse();
    return v;
  },
  /** By length in bytes; ties keep their order (Go's sort.Sort is not stable past 12 elements). */
  sortByLength: (v: unknown): string[] => strings('sortByLength', v).sort((a, b) => Buffer.byteLength(a) - Buffer.byteLength(b)),
  sortKVByLength(v: unknown): KVPair[] {
    if (!Array.isArray(v) || !v.every((e) => e instanceof KVPair)) throw new Error(`sortKVByLength: wrong type for value; expected []memkv.KVPair; got ${goType(v)}`);
    // Sorted in place, and given back as a []memkv.KVPair (which reverse does reverse).
    return [...v.sort((a, b) => Buffer.byteLength(a.Key) - Buffer.byteLength(b.Key))];
  },
  fileExists(p: unknown): boolean {
    try {
      statSync(str('fileExists', p));
      return true;
    } catch (err) {
      // Go's os.IsNotExist is ENOENT alone: any other failure to stat counts as there.
      return (err as NodeJS.ErrnoException).code !== 'ENOENT';
    }
  },
};


/**
 * The `gotpl` template local: Go text/template's built-in functions (and, or, not, eq, ne, lt, le, gt, ge, len,
 * index, slice, print, printf, println, html, js, urlquery, call) and the glue a translated template needs
 * (how Go prints, what is true, how range walks a value, how `.Field` and `.Method args` resolve). Errors carry
 * Go's words, so a translated template fails where and why the Go template would have.
 */
import { sprint, sprintf, sprintln } from './printf';
import { GoFloat, GoStruct, formatValue, goType, isMap, sortedKeys, compareBytes, text, truth } from './value';

type Kind = 'invalid' | 'bool' | 'int' | 'float' | 'string' | 'other';

function kind(v: unknown): Kind {
  if (v === undefined || v === null) return 'invalid';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'int';
  if (v instanceof GoFloat) return 'float';
  if (typeof v === 'string') return 'string';
  return 'other';
}

function fail(fn: string, message: string): never {
  throw new Error(`error calling ${fn}: ${message}`);
}

function eq(a: unknown, ...bs: unknown[]): boolean {
  if (bs.length === 0) fail('eq', 'missing argument for comparison');
  const k1 = kind(a);
  for (const b of bs) {
    const k2 = kind(b);
    if (k1 !== k2) {
      if (k1 !== 'invalid' && k2 !== 'invalid') fail('eq', 'incompatible types for comparison');
      continue;
    }
    if (k1 === 'invalid') return true;
    if (k1 === 'other') {
      if (Array.isArray(a) || isMap(a)) fail('eq', `non-comparable type ${formatValue(a)}: ${goType(a)}`);
      if (a instanceof GoStruct && b instanceof GoStruct) {
        if (formatValue(a) === formatValue(b) && a.goType() === b.goType()) return true;
        continue;
      }
    }
    if (Number(a) === Number(b) && k1 !== 'string' && k1 !== 'other') return true;
    if (a === b) return true;
  }
  return false;
}

function lt(a: unknown, b: unknown, fn = 'lt'): boolean {
  const k1 = kind(a);
  const k2 = kind(b);
  if (k1 === 'bool' || k1 === 'other' || k1 === 'invalid' || k2 === 'bool' || k2 === 'other' || k2 === 'invalid') {
    fail(fn, 'invalid type for comparison');
  }
  if (k1 !== k2) fail(fn, 'incompatible types for comparison');
  if (k1 === 'string') return compareBytes(a as string, b as string) < 0;
  return Number(a) < Number(b);
}

/** The operands of html, js and urlquery: one string as it is, anything else as fmt.Sprint prints it. */
/** Go's unicode.IsPrint past ASCII: letters, marks, numbers, punctuation and symbols (no other space). */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

function joined(args: unknown[]): string {
  return args.length === 1 && typeof args[0] === 'string' ? args[0] : sprint(args);
}

function indexArg(fn: string, i: unknown, length: number, cap = length): number {
  if (typeof i !== 'number') fail(fn, i === undefined || i === null ? 'cannot index slice/array with nil' : `cannot index slice/array with type ${goType(i)}`);
  if (i < 0 || i > cap) fail(fn, `index out of range: ${i}`);
  return i;
}

export const gotpl = {
  /** What `{{pipeline}}` writes. */
  text,
  truth,
  /** A float constant of the template (`1.5`, `1e3`): a float64, not an int. */
  float: (v: number): GoFloat => new GoFloat(v),

  /** `{{range}}`'s steps as [index or key, element]: a slice in order, a map by sorted key, an int 0..n-1. */
  each(v: unknown): Array<[unknown, unknown]> {
    if (v === undefined || v === null) return [];
    if (Array.isArray(v)) return v.map((e, i) => [i, e]);
    if (isMap(v)) return sortedKeys(v).map((k) => [k, v[k]]);
    if (typeof v === 'number') return Array.from({ length: Math.max(0, v) }, (_, i) => [i, i]);
    throw new Error(`range can't iterate over ${formatValue(v)}`);
  },

  /** `.A.B.C args`: a chain of fields, map keys or methods; args go to the last, which must be a method. */
  field(recv: unknown, names: string[], args?: unknown[]): unknown {
    let v = recv;
    names.forEach((name, i) => {
      const last = i === names.length - 1;
      const hasArgs = last && args !== undefined;
      if (v === undefined) return;
      if (v === null) throw new Error(`nil pointer evaluating interface {}.${name}`);
      if (isMap(v)) {
        if (hasArgs) throw new Error(`${name} is not a method but has arguments`);
        v = Object.prototype.hasOwnProperty.call(v, name) ? v[name] : undefined;
        return;
      }
      const member = typeof v === 'object' ? (v as Record<string, unknown>)[name] : undefined;
      if (typeof member === 'function') {
        v = (member as (...a: unknown[]) => unknown).apply(v, hasArgs ? args : []);
      } else if (member !== undefined && typeof v === 'object' && Object.prototype.hasOwnProperty.call(v, name)) {
        if (hasArgs) throw new Error(`${name} has arguments but cannot be invoked as function`);
        v = member;
      } else {
        throw new Error(`can't evaluate field ${name} in type ${goType(v)}`);
      }
    });
    return v;
  },

  /** `and`: the first false operand, else the last; later operands are not evaluated (Go 1.18). */
  and(...thunks: Array<() => unknown>): unknown {
    if (thunks.length === 0) throw new Error('wrong number of args for and: want at least 1 got 0');
    let v: unknown;
    for (const t of thunks) {
      v = t();
      if (!truth(v)) return v;
    }
    return v;
  },
  /** `or`: the first true operand, else the last. */
  or(...thunks: Array<() => unknown>): unknown {
    if (thunks.length === 0) throw new Error('wrong number of args for or: want at least 1 got 0');
    let v: unknown;
    for (const t of thunks) {
      v = t();
      if (truth(v)) return v;
    }
    return v;
  },
  not: (v: unknown): boolean => !truth(v),
  eq,
  ne: (a: unknown, b: unknown): boolean => {
    try {
      return !eq(a, b);
    } catch (err) {
      throw new Error((err as Error).message.replace('calling eq', 'calling ne'), { cause: err });
    }
  },
  lt: (a: unknown, b: unknown): boolean => lt(a, b),
  le: (a: unknown, b: unknown): boolean => lt(a, b, 'le') || eq(a, b),
  gt: (a: unknown, b: unknown): boolean => !(lt(a, b, 'gt') || eq(a, b)),
  ge: (a: unknown, b: unknown): boolean => !lt(a, b, 'ge'),

  /** `len`: a string's length in bytes, as Go counts it; a slice's or map's entries. */
  len(v: unknown): number {
    if (v === undefined || v === null) fail('len', 'len of nil pointer');
    if (typeof v === 'string') return Buffer.byteLength(v);
    if (Array.isArray(v)) return v.length;
    if (isMap(v)) return Object.keys(v).length;
    return fail('len', `len of type ${goType(v)}`);
  },
  /** `index x 1 2`: x[1][2]; a missing map key is nil, a string gives a byte. */
  index(item: unknown, ...keys: unknown[]): unknown {
    if (item === undefined || item === null) fail('index', 'index of untyped nil');
    let v: unknown = item;
    for (const k of keys) {
      if (v === undefined || v === null) fail('index', 'index of nil pointer');
      if (typeof v === 'string') v = Buffer.from(v)[indexArg('index', k, Buffer.byteLength(v) - 1)];
      else if (Array.isArray(v)) v = v[indexArg('index', k, v.length - 1)];
      else if (isMap(v)) {
        if (typeof k !== 'string') fail('index', `value has type ${goType(k)}; should be string`);
        v = Object.prototype.hasOwnProperty.call(v, k) ? v[k] : null;
      } else fail('index', `can't index item of type ${goType(v)}`);
    }
    return v;
  },
  /** `slice x 1 2`: x[1:2] of a string (by bytes) or a slice. */
  slice(item: unknown, ...idx: unknown[]): unknown {
    if (typeof item === 'string') {
      const b = Buffer.from(item);
      const lo = idx.length > 0 ? indexArg('slice', idx[0], b.length) : 0;
      const hi = idx.length > 1 ? indexArg('slice', idx[1], b.length) : b.length;
      if (idx.length > 2) fail('slice', 'cannot 3-index slice a string');
      if (lo > hi) fail('slice', `invalid slice index: ${lo} > ${hi}`);
      return b.subarray(lo, hi).toString();
    }
    if (Array.isArray(item)) {
      const lo = idx.length > 0 ? indexArg('slice', idx[0], item.length) : 0;
      const hi = idx.length > 1 ? indexArg('slice', idx[1], item.length) : item.length;
      if (lo > hi) fail('slice', `invalid slice index: ${lo} > ${hi}`);
      return item.slice(lo, hi);
    }
    return fail('slice', `can't slice item of type ${goType(item)}`);
  },
  print: (...args: unknown[]): string => sprint(args),
  println: (...args: unknown[]): string => sprintln(args),
  printf(format: unknown, ...args: unknown[]): string {
    if (typeof format !== 'string') throw new Error(`wrong type for value; expected string; got ${goType(format)}`);
    return sprintf(format, args);
  },
  html: (...args: unknown[]): string =>
    joined(args).replace(/[&'<>"\0]/g, (c) => ({ '&': '&amp;', "'": '&#39;', '<': '&lt;', '>': '&gt;', '"': '&#34;', '\0': '\uFFFD' })[c]!),
  /** Go's JSEscapeString: quotes and backslash escaped, <>&= and controls as \\uXXXX, and so is any other rune that Go's unicode.IsPrint refuses. */
  js: (...args: unknown[]): string =>
    joined(args).replace(/[\\'"<>&=\u0000-\u001f]|[^\u0000-\u007f]/gu, (c) =>
      c === '\\' || c === "'" || c === '"'
        ? `\\${c}`
        : (c.length === 1 && c.charCodeAt(0) < 0x80) || !PRINTABLE.test(c)
          ? `\\u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`
          : c,
    ),
  urlquery: (...args: unknown[]): string =>
    encodeURIComponent(joined(args))
      .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
      .replace(/%20/g, '+'),
  call(fn: unknown, ...args: unknown[]): unknown {
    if (typeof fn !== 'function') fail('call', `non-function of type ${goType(fn)}`);
    return (fn as (...a: unknown[]) => unknown)(...args);
  },
  /** A call that Go refuses when it runs (a wrong number of arguments), with Go's message; `_piped` was evaluated first. */
  fail(message: string, _piped?: unknown): never {
    throw new Error(message);
  },
  /** `{{template "x"}}` naming a template that the file does not define fails when it runs, as in Go. */
  noTemplate(name: string): never {
    throw new Error(`no such template ${JSON.stringify(name)}`);
  },
};

export type GoTpl = typeof gotpl;

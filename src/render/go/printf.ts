/**
 * Go's fmt.Sprint, Sprintln and Sprintf over the values of value.ts: the verbs templates use (%v %s %d %q %x
 * %X %o %b %c %f %F %e %E %g %G %t %%, and %x %X of a float as a hex float), flags (- + # 0 space), width and
 * precision (also from operands, `*`), explicit argument indexes (`%[2]d`), and fmt's own words for a wrong verb
 * (%!d(string=x)), a missing operand (%!d(MISSING)), a bad index (%!d(BADINDEX)) and extra ones (%!(EXTRA int=1)).
 */
import { hexFloat, quote, sharpHex, toFixedEven } from './strconv';
import { GoFloat, GoStruct, formatG, formatValue, goType, isMap, sortedKeys } from './value';

/** fmt.Sprint: spaces between operands when neither side is a string. */
export function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(a);
  });
  return out;
}

/** fmt.Sprintln: spaces between all operands and a newline. */
export function sprintln(args: unknown[]): string {
  return `${args.map(formatValue).join(' ')}\n`;
}

interface Spec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  zero: boolean;
  space: boolean;
  width?: number;
  prec?: number;
  verb: string;
}

function pad(s: string, spec: Spec, numeric: boolean): string {
  if (spec.width === undefined || s.length >= spec.width) return s;
  const n = spec.width - s.length;
  if (spec.minus) return s + ' '.repeat(n);
  if (spec.zero && numeric) {
    const sign = /^[+\- ]/.test(s) ? s[0] : '';
    return sign + '0'.repeat(n) + s.slice(sign.length);
  }
  return ' '.repeat(n) + s;
}

function bad(spec: Spec, v: unknown): string {
  return v === undefined || v === null ? `%!${spec.verb}(<nil>)` : `%!${spec.verb}(${goType(v)}=${formatValue(v)})`;
}

function sign(n: number, spec: Spec): string {
  return n < 0 || Object.is(n, -0) ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
}

function integer(n: number, spec: Spec): string {
  const base = { d: 10, x: 16, X: 16, o: 8, O: 8, b: 2 }[spec.verb] ?? 10;
  let digits = Math.abs(n).toString(base);
  if (spec.verb === 'X') digits = digits.toUpperCase();
  if (spec.prec !== undefined) digits = spec.prec === 0 && n === 0 ? '' : digits.padStart(spec.prec, '0');
  let prefix = '';
  if (spec.sharp && (spec.verb === 'x' || spec.verb === 'X')) prefix = spec.verb === 'x' ? '0x' : '0X';
  if (spec.sharp && spec.verb === 'o' && !digits.startsWith('0')) prefix = '0';
  if (spec.verb === 'O') prefix = '0o';
  return pad(sign(n, spec) + prefix + digits, spec, spec.prec === undefined);
}

function float(v: number, spec: Spec): string {
  const a = Math.abs(v);
  let body: string;
  if (!Number.isFinite(v)) body = Number.isNaN(v) ? 'NaN' : 'Inf';
  else if (spec.verb === 'f' || spec.verb === 'F') body = toFixedEven(a, spec.prec ?? 6);
  else if (spec.verb === 'e' || spec.verb === 'E') {
    body = a.toExponential(spec.prec ?? 6).replace(/e([+-])(\d)$/, 'e$10$2');
    if (spec.verb === 'E') body = body.toUpperCase();
  } else if (spec.verb === 'x' || spec.verb === 'X') {
    body = hexFloat(a, spec.prec ?? -1);
    if (spec.sharp) body = sharpHex(body, spec.prec ?? -1);
    if (spec.verb === 'X') body = body.toUpperCase();
  } else body = formatG(a, spec.prec ?? -1, spec.verb === 'G', spec.sharp);
  const s = Number.isNaN(v) ? (spec.plus ? '+' : spec.space ? ' ' : '') : sign(v, spec);
  return pad(s + body, spec, Number.isFinite(v));
}

function str(s: string, spec: Spec): string {
  const cut = spec.prec === undefined ? s : [...s].slice(0, spec.prec).join('');
  switch (spec.verb) {
    case 's':
    case 'v':
      return pad(cut, spec, false);
    case 'q':
      return pad(quote(cut), spec, false);
    case 'x':
    case 'X': {
      // The space flag puts a space between the bytes.
      const hex = [...Buffer.from(cut)].map((b) => b.toString(16).padStart(2, '0')).join(spec.space ? ' ' : '');
      return pad(spec.verb === 'X' ? hex.toUpperCase() : hex, spec, false);
    }
    default:
      return bad(spec, s);
  }
}

/** One operand under one verb, as fmt's printArg does it. */
function one(v: unknown, spec: Spec): string {
  const verb = spec.verb;
  if (Array.isArray(v) && verb !== 'T') return pad(`[${v.map((e) => one(e, { ...spec, width: undefined })).join(' ')}]`, spec, false);
  if (isMap(v)) return `map[${sortedKeys(v).map((k) => `${one(k, spec)}:${one(v[k], spec)}`).join(' ')}]`;
  if (v instanceof GoStruct && verb !== 'T') {
    const f = v.goFields().map((e) => one(e, { ...spec, width: undefined })).join(' ');
    return pad(`{${f}}`, spec, false);
  }
  if (verb === 'T') return pad(goType(v), spec, false);
  if (v === undefined || v === null) return verb === 'v' ? pad('<nil>', spec, false) : bad(spec, v);
  if (typeof v === 'string') return str(v, spec);
  if (typeof v === 'boolean') return verb === 't' || verb === 'v' ? pad(String(v), spec, false) : bad(spec, v);
  if (typeof v === 'number') {
    if (verb === 'v') return integer(v, { ...spec, verb: 'd' });
    if ('dxXoObc'.includes(verb)) {
      if (verb === 'c') return pad(String.fromCodePoint(v), spec, false);
      return integer(v, spec);
    }
    if (verb === 'q') return pad(quote(String.fromCodePoint(v), "'"), spec, false);
    if (verb === 'U') return pad(`U+${v.toString(16).toUpperCase().padStart(4, '0')}`, spec, false);
    return bad(spec, v);
  }
  if (v instanceof GoFloat) {
    if (verb === 'v') return float(v.v, { ...spec, verb: 'g' });
    if ('eEfFgGxX'.includes(verb)) return float(v.v, spec);
    return bad(spec, v);
  }
  return verb === 'v' || verb === 's' ? pad(formatValue(v), spec, false) : bad(spec, v);
}

/** fmt.Sprintf, with explicit argument indexes (`%[2]d`, `%[3]*.[2]*[1]f`) as fmt reads them. */
export function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let argNum = 0;
  // After any explicit index, fmt no longer reports extra operands.
  let reordered = false;
  let i = 0;
  while (i < format.length) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    const spec: Spec = { minus: false, plus: false, sharp: false, zero: false, space: false, verb: '' };
    for (; i < format.length; i++) {
      const c = format[i];
      if (c === '-') [spec.minus, spec.zero] = [true, false];
      else if (c === '+') spec.plus = true;
      else if (c === '#') spec.sharp = true;
      else if (c === '0') spec.zero = !spec.minus;
      else if (c === ' ') spec.space = true;
      else break;
    }
    // False once an index is malformed or out of range, or stands where fmt takes none (`%[1]2d`).
    let good = true;
    /** An index `[n]` at i moves argNum to it; true when one was read (even one out of range). */
    const index = (): boolean => {
      if (format[i] !== '[') return false;
      reordered = true;
      const close = format.indexOf(']', i);
      if (close < 0) {
        i++;
        good = false;
        return false;
      }
      const inner = format.slice(i + 1, close);
      i = close + 1;
      if (!/^\d{1,7}$/.test(inner) || Number(inner) > 1e6) {
        good = false;
        return false;
      }
      const n = Number(inner);
      if (n < 1 || n > args.length) good = false;
      else argNum = n - 1;
      return true;
    };
    const digits = (): number | undefined => {
      const m = /^\d+/.exec(format.slice(i));
      if (!m) return undefined;
      i += m[0].length;
      return Number(m[0]);
    };
    /** A `*`: the next operand as an int, if it is one. */
    const star = (): number | undefined => {
      if (argNum >= args.length) return undefined;
      const n = args[argNum++];
      return typeof n === 'number' && Number.isInteger(n) && Math.abs(n) <= 1e6 ? n : undefined;
    };
    let afterIndex = index();
    if (format[i] === '*') {
      i++;
      const w = star();
      if (w === undefined) out += '%!(BADWIDTH)';
      else if (w < 0) [spec.width, spec.minus, spec.zero] = [-w, true, false];
      else spec.width = w;
      afterIndex = false;
    } else {
      spec.width = digits();
      if (afterIndex && spec.width !== undefined) good = false;
    }
    // fmt reads a '.' as a precision only when something follows it; a final '.' is the verb.
    if (i + 1 < format.length && format[i] === '.') {
      i++;
      if (afterIndex) good = false;
      afterIndex = index();
      if (format[i] === '*') {
        i++;
        const p = star();
        if (p === undefined || p < 0) out += '%!(BADPREC)';
        else spec.prec = p;
        afterIndex = false;
      } else {
        spec.prec = digits() ?? 0;
      }
    }
    if (!afterIndex) afterIndex = index();
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    spec.verb = String.fromCodePoint(format.codePointAt(i)!);
    i += spec.verb.length;
    if (spec.verb === '%') out += '%';
    else if (!good) out += `%!${spec.verb}(BADINDEX)`;
    else if (argNum >= args.length) out += `%!${spec.verb}(MISSING)`;
    else {
      const arg = args[argNum++];
      out += 'vsdqxXoObcUeEfFgGtT'.includes(spec.verb) ? one(arg, spec) : bad(spec, arg);
    }
  }
  if (!reordered && argNum < args.length) {
    out += `%!(EXTRA ${args.slice(argNum).map((a) => (a === undefined || a === null ? '<nil>' : `${goType(a)}=${formatValue(a)}`)).join(', ')})`;
  }
  return out;
}

/**
 * Go's values as translated templates hold them, and how Go prints them. A JS string is a Go string, a JS
 * number an int, a GoFloat a float64 (what encoding/json gives a Go interface{} for a number), an array a
 * slice, a plain object a map[string]interface{}, a GoStruct a struct (confd's KVPair), `null` a nil inside a
 * value and `undefined` Go's "no value" (a missing map entry, nil data).
 */

/** A float64. Kept apart from int because Go prints, compares and checks them differently (1e+06, eq 1 1.0). */
export class GoFloat {
  constructor(readonly v: number) {}
  valueOf(): number {
    return this.v;
  }
}

/** A Go struct value: printed as `{field field}`, always true in `if`. */
export abstract class GoStruct {
  abstract goFields(): unknown[];
  abstract goType(): string;
}

/** confd's memkv.KVPair: what `get` and `gets` give, with `.Key` and `.Value`. */
export class KVPair extends GoStruct {
  constructor(
    readonly Key: string,
    readonly Value: string,
  ) {
    super();
  }
  goFields(): unknown[] {
    return [this.Key, this.Value];
  }
  goType(): string {
    return 'memkv.KVPair';
  }
}

/** Marks a slice whose Go type is []interface{} (jsonArray's), which confd's `reverse` leaves as it is. */
export const ANY_SLICE = Symbol('[]interface {}');

export function markAnySlice<T extends unknown[]>(a: T): T {
  Object.defineProperty(a, ANY_SLICE, { value: true });
  return a;
}

export function isMap(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** The Go type name that fmt's %!verb(type=value) and error messages show. */
export function goType(v: unknown): string {
  if (v === undefined || v === null) return '<nil>';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'int';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof GoFloat) return 'float64';
  if (v instanceof GoStruct) return v.goType();
  if (Array.isArray(v)) {
    if ((v as unknown as Record<symbol, unknown>)[ANY_SLICE]) return '[]interface {}';
    if (v.length > 0 && v.every((e) => typeof e === 'string')) return '[]string';
    if (v.length > 0 && v.every((e) => typeof e === 'number')) return '[]int';
    if (v.length > 0 && v.every((e) => e instanceof KVPair)) return '[]memkv.KVPair';
    return '[]interface {}';
  }
  if (isMap(v)) return 'map[string]interface {}';
  if (typeof v === 'function') return 'func';
  // A value that names its Go type (GoTime: time.Time).
  if (typeof v === 'object' && typeof (v as { goType?: unknown }).goType === 'function') return String((v as { goType(): unknown }).goType());
  return 'struct';
}

/** Go's truth: false, 0, nil, and an empty string, slice or map are false; everything else is true. */
export function truth(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (v instanceof GoFloat) return v.v !== 0;
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
}

/** Go sorts a map's keys when it prints or ranges over it; ours are strings, compared as Go compares bytes. */
export function sortedKeys(m: Record<string, unknown>): string[] {
  return Object.keys(m).sort(compareBytes);
}

/** Compares as Go compares strings (by UTF-8 bytes), which differs from JS's UTF-16 only for astral characters. */
export function compareBytes(a: string, b: string): number {
  if (a === b) return 0;
  // UTF-16 order is code point order (and so UTF-8 byte order) unless a surrogate is involved.
  if (!SURROGATE.test(a) && !SURROGATE.test(b)) return a < b ? -1 : 1;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * strconv.FormatFloat(v, 'g', prec, 64), and with prec -1 the shortest form that fmt's %v uses: exponent form
 * when the exponent is below -4 or at least 6 (shortest) or prec, trailing zeros dropped.
 */
export function formatG(v: number, prec: number, upper = false, sharp = false): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
  const neg = v < 0 || Object.is(v, -0);
  const a = Math.abs(v);
  const p = prec === 0 ? 1 : prec;
  const exp0 = p < 0 ? a.toExponential() : a.toExponential(p - 1);
  const [mant, ex] = exp0.split('e');
  let digits = mant.replace('.', '');
  if (!sharp) digits = digits.replace(/0+$/, '') || '0';
  const nd = digits.length;
  const dp = a === 0 ? 1 : Number(ex) + 1;
  const eprec = p < 0 ? 6 : p > nd && nd >= dp ? nd : p;
  const exp = dp - 1;
  let out: string;
  if (exp < -4 || exp >= eprec) {
    const frac = digits.slice(1);
    const e = Math.abs(exp);
    out = `${digits[0]}${frac ? `.${frac}` : ''}${upper ? 'E' : 'e'}${exp < 0 ? '-' : '+'}${e < 10 ? `0${e}` : e}`;
  } else if (dp <= 0) {
    out = `0.${'0'.repeat(-dp)}${digits}`;
  } else if (dp >= nd) {
    out = digits + '0'.repeat(dp - nd);
  } else {
    out = `${digits.slice(0, dp)}.${digits.slice(dp)}`;
  }
  return neg ? `-${out}` : out;
}

/** fmt's %v of a value (fmt.Sprint of one operand); nil is `<nil>`. */
export function formatValue(v: unknown): string {
  if (v === undefined || v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : formatG(v, -1);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof GoFloat) return formatG(v.v, -1);
  if (v instanceof GoStruct) return `{${v.goFields().map(formatValue).join(' ')}}`;
  if (Array.isArray(v)) return `[${v.map(formatValue).join(' ')}]`;
  if (isMap(v)) return `map[${sortedKeys(v).map((k) => `${k}:${formatValue(v[k])}`).join(' ')}]`;
  if (typeof v === 'object' && typeof (v as { String?: unknown }).String === 'function') {
    return String((v as { String(): unknown }).String());
  }
  // A function or another object: Go would print an address; its type is the most useful text for it.
  return typeof v === 'function' ? 'func' : Object.prototype.toString.call(v);
}

/**
 * What `{{ pipeline }}` writes: as fmt prints it, except that nil is `<no value>` (Go digs the nil out of an
 * interface{} before printing, so a JSON null and a missing map key both print so).
 */
export function text(v: unknown): string {
  return v === undefined || v === null ? '<no value>' : formatValue(v);
}

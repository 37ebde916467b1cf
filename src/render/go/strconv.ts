/**
 * What fmt's verbs need from Go's strconv and JS lacks: Quote and QuoteRune (%q), FormatFloat's %f with Go's
 * rounding of an exact tie, and its 'x' format (%x of a float, the hexadecimal `-0x1.8p+03`).
 */

/** strconv.Quote (or, with `'`, QuoteRune), for the characters config files hold. */
export function quote(s: string, mark: '"' | "'" = '"'): string {
  const esc: Record<string, string> = { [mark]: `\\${mark}`, '\\': '\\\\', '\n': '\\n', '\t': '\\t', '\r': '\\r', '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\v': '\\v' };
  let out = mark;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (esc[ch]) out += esc[ch];
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + mark;
}

/** toFixed, but an exact tie rounds to even as Go's strconv does (2.5 -> "2"), where JS rounds up. */
export function toFixedEven(a: number, prec: number): string {
  const scaled = a * 10 ** prec;
  if (Number.isSafeInteger(scaled * 2) && !Number.isInteger(scaled)) {
    const lo = Math.floor(scaled);
    return ((lo % 2 === 0 ? lo : lo + 1) / 10 ** prec).toFixed(prec);
  }
  return a.toFixed(prec);
}

const FRACTION_BITS = 52n;

/** The mantissa with its leading bit at bit 52 (0 for zero), and the binary exponent, of a finite a >= 0. */
function normalized(a: number): { mant: bigint; exp: number } {
  if (a === 0) return { mant: 0n, exp: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, a);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> FRACTION_BITS) & 0x7ffn);
  let mant = bits & ((1n << FRACTION_BITS) - 1n);
  if (biased !== 0) return { mant: mant | (1n << FRACTION_BITS), exp: biased - 1023 };
  // A subnormal: shift its first 1 up to the leading place, as strconv does (5e-324 is 0x1p-1074).
  let exp = -1022;
  while (mant < 1n << FRACTION_BITS) {
    mant <<= 1n;
    exp--;
  }
  return { mant, exp };
}

/**
 * strconv.FormatFloat(a, 'x', prec, 64) of a finite a >= 0: `0x1.<hex>p±dd`, with at least two exponent digits.
 * prec < 0 gives the fewest digits that are exact; otherwise the fraction is rounded (half to even) to prec
 * digits, a carry moving into the exponent (0x1.fp+00 to one digit less is 0x1p+01).
 */
export function hexFloat(a: number, prec: number): string {
  let { mant, exp } = normalized(a);
  let digits: string;
  if (prec >= 0 && prec < 13) {
    const shift = FRACTION_BITS - BigInt(4 * prec);
    const half = 1n << (shift - 1n);
    const rest = mant & ((1n << shift) - 1n);
    mant >>= shift;
    if (rest > half || (rest === half && (mant & 1n) === 1n)) mant++;
    if (mant >> BigInt(4 * prec) === 2n) {
      mant >>= 1n;
      exp++;
    }
    digits = prec === 0 ? '' : (mant & ((1n << BigInt(4 * prec)) - 1n)).toString(16).padStart(prec, '0');
    mant >>= BigInt(4 * prec);
  } else {
    digits = (mant & ((1n << FRACTION_BITS) - 1n)).toString(16).padStart(13, '0');
    digits = prec < 0 ? digits.replace(/0+$/, '') : digits.padEnd(prec, '0');
    mant >>= FRACTION_BITS;
  }
  if (a === 0) exp = 0;
  const e = Math.abs(exp);
  return `0x${mant.toString()}${digits ? `.${digits}` : ''}p${exp < 0 ? '-' : '+'}${e < 10 ? `0${e}` : e}`;
}

/**
 * fmt's # flag on %x of a float: a point always, and zeros until `prec` digits (6 without a precision) are
 * counted from the first character that is not 0. fmt counts the x of "0x" as that character and as a digit,
 * so %#x of 1.0 is 0x1.0000p+00: four zeros, not five. Kept, because a translated template must write what Go does.
 */
export function sharpHex(body: string, prec: number): string {
  const p = body.search(/[pP]/);
  const [num, tail] = [body.slice(0, p), body.slice(p)];
  let digits = prec < 0 ? 6 : prec;
  let seen = false;
  for (const c of num) {
    if (c === '.') continue;
    if (c !== '0') seen = true;
    if (seen) digits--;
  }
  return `${num}${num.includes('.') ? '' : '.'}${'0'.repeat(Math.max(0, digits))}${tail}`;
}

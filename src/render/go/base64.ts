/** confd's base64Decode: Go's base64.StdEncoding.DecodeString, to text. */

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Go's base64.StdEncoding.DecodeString: padding required, CR and LF skipped wherever they are, and an error
 * naming the byte offset that Go names. The result must be UTF-8: reconfig renders text, and would otherwise
 * write U+FFFD where confd writes the decoded bytes.
 */
export function base64Decode(s: string): string {
  const src = Buffer.from(s);
  const out: number[] = [];
  const bad = (at: number): never => {
    throw new Error(`error calling base64Decode: illegal base64 data at input byte ${at}`);
  };
  const skipNewlines = (i: number): number => {
    while (i < src.length && (src[i] === 10 || src[i] === 13)) i++;
    return i;
  };
  let i = 0;
  let end = false;
  while (!end) {
    // One quantum: four characters of the alphabet, or fewer before padding.
    const q: number[] = [];
    while (q.length < 4) {
      if (i === src.length) {
        if (q.length === 0) return text(out);
        bad(i - q.length);
      }
      const c = src[i++];
      const v = B64.indexOf(String.fromCharCode(c));
      if (v >= 0) q.push(v);
      else if (c === 10 || c === 13) continue;
      else if (c !== 0x3d || q.length < 2) bad(i - 1);
      else {
        if (q.length === 2) {
          i = skipNewlines(i);
          if (i === src.length) bad(src.length);
          if (src[i] !== 0x3d) bad(i - 1);
          i++;
        }
        i = skipNewlines(i);
        if (i < src.length) bad(i);
        end = true;
        break;
      }
    }
    const val = ((q[0] ?? 0) << 18) | ((q[1] ?? 0) << 12) | ((q[2] ?? 0) << 6) | (q[3] ?? 0);
    out.push(...[(val >> 16) & 0xff, (val >> 8) & 0xff, val & 0xff].slice(0, q.length - 1));
  }
  return text(out);

  function text(bytes: number[]): string {
    try {
      return utf8.decode(Uint8Array.from(bytes));
    } catch (err) {
      throw new Error(`error calling base64Decode: the decoded data is not UTF-8 text, which reconfig cannot write byte for byte`, { cause: err });
    }
  }
}

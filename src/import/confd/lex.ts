/**
 * Go text/template's lexer, for templates written for confd: text, `{{ }}` actions with the trim markers
 * `{{- ` and ` -}}` (which drop all the whitespace, newlines included, on that side), comments (slash-star to star-slash),
 * and the tokens inside an action. Trimming happens here, as in Go, so text tokens hold exactly what Go writes.
 */

export type TokenKind =
  | 'text' | 'open' | 'close' | 'comment' | 'ident' | 'field' | 'dot' | 'var' | 'string' | 'char' | 'number'
  | 'bool' | 'nil' | 'lparen' | 'rparen' | 'pipe' | 'declare' | 'assign' | 'comma' | 'keyword' | 'eof';

export interface Token {
  kind: TokenKind;
  /** The token's text; for a string or char, its value; for text, what remains after trimming. */
  value: string;
  /** The 1-based line where the token begins. */
  line: number;
  /** Whitespace came between this token and the one before (inside an action). */
  spaced: boolean;
  /** For text: how many newlines the trim markers dropped from it (kept by the emitter for line numbers). */
  dropped?: number;
}

export class LexError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

const KEYWORDS = new Set(['block', 'break', 'continue', 'define', 'else', 'end', 'if', 'range', 'template', 'with']);
const SPACE = /[ \t\r\n]/;
const ALNUM = /[\p{L}\p{Nd}_]/u;

/** Splits a template into tokens; throws LexError with the line of an unclosed action or a bad character. */
export function lex(input: string): Token[] {
  const out: Token[] = [];
  let pos = 0;
  let line = 1;
  let trimNext = false;
  const countLines = (s: string): number => s.split('\n').length - 1;
  const push = (kind: TokenKind, value: string, at: number, spaced = false, dropped?: number): void => {
    out.push({ kind, value, line: at, spaced, ...(dropped === undefined ? {} : { dropped }) });
  };

  while (pos < input.length) {
    const open = input.indexOf('{{', pos);
    const end = open < 0 ? input.length : open;
    let text = input.slice(pos, end);
    const startLine = line;
    line += countLines(text);
    const leftTrim = open >= 0 && input[open + 2] === '-' && SPACE.test(input[open + 3] ?? '');
    const before = text;
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    if (leftTrim) text = text.replace(/[ \t\r\n]+$/, '');
    const dropped = countLines(before) - countLines(text);
    if (text !== '' || dropped > 0) push('text', text, startLine, false, dropped);
    trimNext = false;
    if (open < 0) break;
    pos = open + 2;
    push('open', leftTrim ? '{{-' : '{{', line);
    if (leftTrim) pos += 2;
    // A comment: {{/* ... */}}, alone between the delimiters.
    if (input.startsWith('/*', pos)) {
      const close = input.indexOf('*/', pos + 2);
      if (close < 0) throw new LexError(line, 'unclosed comment');
      const body = input.slice(pos, close + 2);
      push('comment', body, line);
      line += countLines(body);
      pos = close + 2;
      const right = atRight(input, pos);
      if (!right) throw new LexError(line, 'comment ends before closing delimiter');
      trimNext = right.trim;
      push('close', right.trim ? '-}}' : '}}', line);
      pos += right.length;
      continue;
    }
    // Inside an action.
    let depth = 0;
    for (;;) {
      const ws = /^[ \t\r\n]*/.exec(input.slice(pos))![0];
      const spaced = ws.length > 0;
      const right = atRight(input, pos);
      if (right) {
        if (depth > 0) throw new LexError(line, 'unclosed left paren');
        line += countLines(input.slice(pos, pos + right.length));
        trimNext = right.trim;
        push('close', right.trim ? '-}}' : '}}', line);
        pos += right.length;
        break;
      }
      line += countLines(ws);
      pos += ws.length;
      if (pos >= input.length) throw new LexError(line, 'unclosed action');
      if (atRight(input, pos)?.trim === false) continue;
      const c = input[pos];
      const rest = input.slice(pos);
      let m: RegExpExecArray | null;
      if (c === ':') {
        if (input[pos + 1] !== '=') throw new LexError(line, 'expected :=');
        push('declare', ':=', line, spaced);
        pos += 2;
      } else if (c === '=') {
        push('assign', '=', line, spaced);
        pos++;
      } else if (c === '|') {
        push('pipe', '|', line, spaced);
        pos++;
      } else if (c === ',') {
        push('comma', ',', line, spaced);
        pos++;
      } else if (c === '(') {
        depth++;
        push('lparen', '(', line, spaced);
        pos++;
      } else if (c === ')') {
        if (--depth < 0) throw new LexError(line, 'unexpected right paren');
        push('rparen', ')', line, spaced);
        pos++;
      } else if (c === '"') {
        m = /^"(?:[^"\\\n]|\\.)*"/.exec(rest);
        if (!m) throw new LexError(line, 'unterminated quoted string');
        push('string', unquote(m[0], line), line, spaced);
        pos += m[0].length;
      } else if (c === '`') {
        const close = input.indexOf('`', pos + 1);
        if (close < 0) throw new LexError(line, 'unterminated raw quoted string');
        const raw = input.slice(pos + 1, close);
        push('string', raw.replace(/\r/g, ''), line, spaced);
        line += countLines(raw);
        pos = close + 1;
      } else if (c === "'") {
        m = /^'(?:[^'\\\n]|\\.[^']*)'/.exec(rest);
        if (!m) throw new LexError(line, 'unterminated character constant');
        push('char', unquote(`"${m[0].slice(1, -1).replace(/"/g, '\\"')}"`, line), line, spaced);
        pos += m[0].length;
      } else if ((m = /^[+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)/.exec(rest)) && (/\d/.test(c) || /^[-+.]\d|^[-+]\.\d/.test(rest))) {
        if (ALNUM.test(input[pos + m[0].length] ?? '')) throw new LexError(line, `bad number syntax: ${JSON.stringify(rest.slice(0, m[0].length + 1))}`);
        push('number', m[0], line, spaced);
        pos += m[0].length;
      } else if (c === '.') {
        m = /^\.[\p{L}\p{Nd}_]*/u.exec(rest)!;
        push(m[0] === '.' ? 'dot' : 'field', m[0] === '.' ? '.' : m[0].slice(1), line, spaced);
        pos += m[0].length;
      } else if (c === '$') {
        m = /^\$[\p{L}\p{Nd}_]*/u.exec(rest)!;
        push('var', m[0], line, spaced);
        pos += m[0].length;
      } else if (ALNUM.test(c)) {
        m = /^[\p{L}\p{Nd}_]+/u.exec(rest)!;
        const w = m[0];
        push(w === 'true' || w === 'false' ? 'bool' : w === 'nil' ? 'nil' : KEYWORDS.has(w) ? 'keyword' : 'ident', w, line, spaced);
        pos += w.length;
      } else {
        throw new LexError(line, `unrecognized character in action: ${JSON.stringify(c)}`);
      }
    }
  }
  push('eof', '', line);
  return out;
}

/** The closing delimiter at `pos` (after any whitespace): `}}`, or ` -}}` which trims what follows. */
function atRight(input: string, pos: number): { trim: boolean; length: number } | undefined {
  if (input.startsWith('}}', pos)) return { trim: false, length: 2 };
  const m = /^[ \t\r\n]+/.exec(input.slice(pos, pos + 4096));
  if (m && input[pos + m[0].length] === '-' && input.startsWith('}}', pos + m[0].length + 1)) {
    return { trim: true, length: m[0].length + 3 };
  }
  return undefined;
}

/** A Go interpreted string literal's value. */
function unquote(lit: string, line: number): string {
  const body = lit.slice(1, -1);
  return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/g, (_, e: string) => {
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };
    if (e.length === 1) {
      if (simple[e] === undefined) throw new LexError(line, `invalid escape \\${e} in string`);
      return simple[e];
    }
    if (e[0] === 'x') return Buffer.from([parseInt(e.slice(1), 16)]).toString('latin1');
    if (e[0] === 'u' || e[0] === 'U') return String.fromCodePoint(parseInt(e.slice(1), 16));
    return String.fromCharCode(parseInt(e, 8));
  });
}

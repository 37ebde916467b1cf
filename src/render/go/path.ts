/**
 * Go's package path (slash-separated, lexical), which confd uses for keys: Clean, Join, Base, Dir and Match.
 * Node's path.posix differs at the edges (normalize keeps a trailing slash, "" is not "."), hence our own.
 */

/** path.Clean: the shortest equivalent path; "" is ".". */
export function clean(p: string): string {
  if (p === '') return '.';
  // Already clean, as nearly every etcd key is: rooted, no empty, "." or ".." element, no trailing slash.
  if (p[0] === '/' && (p.length === 1 || !DIRTY.test(p))) return p;
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
    } else out.push(part);
  }
  const s = out.join('/');
  if (rooted) return `/${s}`;
  return s === '' ? '.' : s;
}

const DIRTY = /\/\/|\/\.\.?(\/|$)|\/$/;

/** path.Join: the non-empty elements joined by slashes and cleaned; "" if all are empty. */
export function join(...parts: string[]): string {
  const s = parts.filter((x) => x !== '').join('/');
  return s === '' ? '' : clean(s);
}

/** path.Base: the last element, trailing slashes removed; "" is "." and all slashes are "/". */
export function base(p: string): string {
  if (p === '') return '.';
  const t = p.replace(/\/+$/, '');
  if (t === '') return '/';
  return t.slice(t.lastIndexOf('/') + 1);
}

/** path.Dir: everything before the last element, cleaned. */
export function dir(p: string): string {
  return clean(p.slice(0, p.lastIndexOf('/') + 1));
}

export class BadPatternError extends Error {
  constructor() {
    super('syntax error in pattern');
  }
}

/**
 * path.Match: `*` is any run of non-slash characters, `?` one non-slash character, `[a-z]` and `[^a-z]` classes,
 * `\\` quotes the next character. A malformed pattern throws BadPatternError, as Go returns ErrBadPattern.
 */
export function match(pattern: string, name: string): boolean {
  const simple = simplePattern(pattern);
  if (simple) return simple.test(name);
  return matchAt([...pattern], 0, [...name], 0);
}

const simpleCache = new Map<string, RegExp | null>();

/** A pattern of literals, `*` and `?` alone (what confd templates use) as a RegExp; null for any other. */
function simplePattern(pattern: string): RegExp | null {
  let re = simpleCache.get(pattern);
  if (re === undefined) {
    re = /[[\\\]]/.test(pattern)
      ? null
      : new RegExp(`^${pattern.replace(/[.+^${}()|]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`, 'su');
    if (simpleCache.size > 1000) simpleCache.clear();
    simpleCache.set(pattern, re);
  }
  return re;
}

function matchAt(p: string[], pi: number, s: string[], si: number): boolean {
  while (pi < p.length) {
    const c = p[pi];
    if (c === '*') {
      while (p[pi] === '*') pi++;
      if (pi === p.length) {
        // A trailing star matches the rest, unless the rest has a slash; the pattern must still be valid.
        return !s.slice(si).includes('/');
      }
      for (let k = si; k <= s.length; k++) {
        if (k > si && s[k - 1] === '/') break;
        if (matchAt(p, pi, s, k)) return true;
      }
      checkRest(p, pi);
      return false;
    }
    if (si >= s.length) {
      checkRest(p, pi);
      return false;
    }
    if (c === '?') {
      if (s[si] === '/') return checkRest(p, pi + 1);
      pi++;
      si++;
    } else if (c === '[') {
      const r = matchClass(p, pi + 1, s[si]);
      if (!r.ok) return checkRest(p, r.next);
      pi = r.next;
      si++;
    } else {
      let lit = c;
      if (c === '\\') {
        pi++;
        if (pi >= p.length) throw new BadPatternError();
        lit = p[pi];
      }
      if (s[si] !== lit) return checkRest(p, pi + 1);
      pi++;
      si++;
    }
  }
  return si === s.length;
}

/** Go reports a bad pattern even where the match already failed: scan the rest for one. Returns false. */
function checkRest(p: string[], pi: number): false {
  for (let i = pi; i < p.length; i++) {
    if (p[i] === '\\') {
      if (++i >= p.length) throw new BadPatternError();
    } else if (p[i] === '[') {
      i = matchClass(p, i + 1, '\u0000').next - 1;
    }
  }
  return false;
}

function matchClass(p: string[], i: number, ch: string): { ok: boolean; next: number } {
  let negated = false;
  if (p[i] === '^') {
    negated = true;
    i++;
  }
  let matched = false;
  let n = 0;
  const one = (): string => {
    if (i >= p.length) throw new BadPatternError();
    let c = p[i];
    if (c === '-' || c === ']') throw new BadPatternError();
    if (c === '\\') {
      i++;
      if (i >= p.length) throw new BadPatternError();
      c = p[i];
    }
    i++;
    return c;
  };
  for (;;) {
    if (i >= p.length) throw new BadPatternError();
    if (p[i] === ']' && n > 0) {
      i++;
      break;
    }
    const lo = one();
    let hi = lo;
    if (p[i] === '-') {
      i++;
      hi = one();
    }
    if (lo <= ch && ch <= hi) matched = true;
    n++;
  }
  return { ok: matched !== negated, next: i };
}

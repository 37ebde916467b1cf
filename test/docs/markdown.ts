/** Just enough Markdown for the docs tests: fenced blocks with the comment above them, links, heading anchors. */
import { readdirSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');

/** README.md and every page under docs/, as paths relative to the repository. */
export function pages(): string[] {
  const docs = (dir: string): string[] =>
    readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? docs(path.join(dir, e.name)) : e.name.endsWith('.md') ? [path.join(dir, e.name)] : [],
    );
  return ['README.md', ...docs('docs').sort()];
}

export interface Block {
  /** The fence's info string (`sh`, `text`, ...). */
  lang: string;
  body: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The text of an HTML comment on the last non-blank line before the fence, if there is one. */
  note: string | undefined;
}

const FENCE = /^(\s*)(```+|~~~+)\s*([^`\s]*)/;

/** Fenced code blocks, in order. */
export function blocks(text: string): Block[] {
  const lines = text.split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (!open) continue;
    let j = i + 1;
    while (j < lines.length && !lines[j].trimStart().startsWith(open[2])) j++;
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === '') k--;
    const comment = k >= 0 ? /^<!--\s*(.*?)\s*-->$/.exec(lines[k].trim()) : null;
    out.push({ lang: open[3], body: lines.slice(i + 1, j).map((l) => l.slice(open[1].length)).join('\n'), line: i + 1, note: comment?.[1] });
    i = j;
  }
  return out;
}

/** The text with fenced blocks blanked out (line numbers kept). */
function withoutFences(text: string): string {
  let fence: string | null = null;
  return text
    .split('\n')
    .map((l) => {
      if (fence !== null) {
        if (l.trimStart().startsWith(fence)) fence = null;
        return '';
      }
      const f = FENCE.exec(l);
      if (f) fence = f[2];
      return f ? '' : l;
    })
    .join('\n');
}

/** The text with fenced blocks and code spans blanked out, where no link can be. */
const prose = (text: string): string => withoutFences(text).replace(/(`+)[^`]*?\1/g, (span) => span.replace(/[^\n]/g, ''));

export interface Link {
  target: string;
  line: number;
}

/** Inline links and images, `[text](target)`, outside code. */
export function links(text: string): Link[] {
  const out: Link[] = [];
  prose(text)
    .split('\n')
    .forEach((l, i) => {
      for (const m of l.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ target: m[1], line: i + 1 });
    });
  return out;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const l of withoutFences(text).split('\n')) {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(l);
    if (!h) continue;
    const base = h[1]
      .replace(/<[^>]+>/g, '')
      .replace(/`/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

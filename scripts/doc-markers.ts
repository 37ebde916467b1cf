/**
 * Generated parts of the docs live between two HTML comments in a Markdown page; `between` swaps what lies between
 * them for freshly generated text, so that a generator rewrites the page and a test compares the page with its
 * rewrite.
 */
import path from 'node:path';

/** The repository's root (this file runs from dist/scripts/). */
export const ROOT = path.resolve(__dirname, '..', '..');

/** `text` with whatever lies between `begin` and `end` replaced by `body`; `file` names the page in the error. */
export function between(text: string, begin: string, end: string, body: string, file: string): string {
  const a = text.indexOf(begin);
  const b = text.indexOf(end, a);
  if (a < 0 || b < 0) throw new Error(`${file} has no generated block (${begin} ... ${end})`);
  return `${text.slice(0, a + begin.length)}\n${body}\n${text.slice(b)}`;
}

/** The pipeline on a target of one file, as the single-file tests of apply/ use it. */
import path from 'node:path';
import { applyTarget, type ApplyOptions, type ApplyResult, type T } from '../../src/apply/pipeline';

/** A one-file target: the file's own fields (dest, mode, uid, gid) beside the target's. */
export type OneFile = Omit<T, 'files'> & { mode?: number; uid?: number; gid?: number };

export function asSet(t: OneFile): T {
  const { mode, uid, gid, ...rest } = t;
  return { ...rest, files: [{ name: path.basename(t.dest), source: 'test', render: () => '', dest: t.dest, mode, uid, gid }] };
}

/** applyTarget on `t`'s one file; the result without the set's entries. */
export async function applyOne(t: OneFile, content: string, opts?: ApplyOptions): Promise<Omit<ApplyResult, 'entries'>> {
  const { changed, reloaded, diff } = await applyTarget(asSet(t), [content], opts);
  return opts?.notreally ? { changed, reloaded, diff } : { changed, reloaded };
}

/**
 * The files of one target as one set: staged together, swapped together, put back together. A set of one file
 * is the plain case. While a set is being swapped, a journal beside the first file says so: a crash between
 * the first rename and the reload leaves it there, and the next start reloads the whole target once its files
 * are re-applied (see journal.ts).
 */
import { ApplyError, errorMessage } from '../errors';
import type { TargetFile } from '../target';
import { discard, restore, stage, swap, type Current } from './files';

/** One file of a set as this apply sees it: what it held before, and what it is to hold. */
export interface Entry {
  file: TargetFile;
  bytes: Buffer;
  current: Current | null;
  changed: boolean;
}

/** Stages every changed file beside its target (fsync'd); on a failure, discards those already staged. */
export async function stageAll(entries: readonly Entry[]): Promise<Map<Entry, string>> {
  const staged = new Map<Entry, string>();
  try {
    for (const e of entries) if (e.changed) staged.set(e, await stage(e.file.dest, e.bytes, e.file, e.current));
  } catch (err) {
    for (const s of staged.values()) discard(s);
    throw err;
  }
  return staged;
}

/**
 * Renames every staged file over its target, in order. If one rename fails, the files already swapped get
 * their previous bytes, mode and owner back (or are removed if there was none), and the error says so.
 */
export async function swapAll(staged: ReadonlyMap<Entry, string>): Promise<void> {
  const done: Entry[] = [];
  for (const [e, path] of staged) {
    try {
      await swap(path, e.file.dest);
      done.push(e);
    } catch (err) {
      if (done.length === 0) throw err;
      try {
        await restoreAll(done);
      } catch (restoreErr) {
        throw new ApplyError(`${errorMessage(err)}; then putting back ${done.map((d) => d.file.dest).join(', ')} failed: ${errorMessage(restoreErr)}`, { cause: new AggregateError([err, restoreErr]) });
      }
      throw new ApplyError(`${errorMessage(err)}; ${done.map((d) => d.file.dest).join(', ')} put back as they were`, { cause: err });
    }
  }
}

/** Puts every changed file of the set back as it was before this apply: bytes, mode and owner, staged and fsync'd. */
export async function restoreAll(entries: readonly Entry[]): Promise<void> {
  const failures: string[] = [];
  const errors: unknown[] = [];
  for (const e of entries) {
    if (!e.changed) continue;
    try {
      await restore(e.file.dest, e.current);
    } catch (err) {
      failures.push(`${e.file.dest}: ${errorMessage(err)}`);
      errors.push(err);
    }
  }
  if (failures.length) throw new ApplyError(`cannot put back ${failures.join('; ')}`, { cause: new AggregateError(errors) });
}

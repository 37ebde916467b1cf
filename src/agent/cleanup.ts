/** Start-up housekeeping shared by the watching agent and --onetime. */
import { removeStale } from '../apply/files';
import { hasJournal } from '../apply/journal';
import type { Target } from '../target';
import type { RunnerContext } from './runner';

/**
 * Removes staged files left next to the targets' files by a crash, and returns the ids of the targets whose
 * swap journal is still there (a crash came between a swap and its reload): they owe a reload. Nothing is
 * touched with --notreally.
 */
export function cleanStaged(targets: readonly Target[], ctx: Pick<RunnerContext, 'notreally' | 'log'>): Set<string> {
  const owed = new Set<string>();
  if (ctx.notreally) return owed;
  for (const t of targets) {
    const removed = t.files.flatMap((f) => removeStale(f.dest));
    if (removed.length) ctx.log.warn({ target: t.id, removed }, 'removed staged files left by an earlier crash');
    if (hasJournal(t.dest)) {
      ctx.log.warn({ target: t.id }, 'an earlier run stopped between swapping this target\'s files and reloading: it will be applied and reloaded');
      owed.add(t.id);
    }
  }
  return owed;
}

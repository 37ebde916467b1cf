/** Start-up housekeeping shared by the watching agent and --onetime. */
import { removeStale } from '../apply/files';
import type { Target } from '../target';
import type { RunnerContext } from './runner';

/** Removes staged files left next to the targets by a crash. Nothing is touched with --notreally. */
export function cleanStaged(targets: readonly Target[], ctx: RunnerContext): void {
  if (ctx.notreally) return;
  for (const t of targets) {
    const removed = removeStale(t.dest);
    if (removed.length) ctx.log.warn({ target: t.id, removed }, 'removed staged files left by an earlier crash');
  }
}

/** `reconfig import confd`: the importer (src/import/confd/) run from a plan; its report goes to stdout and stderr. */
import type { RunResult } from '../errors';
import { importConfd } from '../import/confd/command';
import type { ModeContext } from './context';
import type { ImportPlan } from './plan';

export function importFromConfd(plan: ImportPlan, cx: ModeContext): Promise<RunResult> {
  return importConfd({ confdir: plan.confdir, out: plan.out, dryRun: plan.dryRun, force: plan.force }, cx.out, cx.err);
}

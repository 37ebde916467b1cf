/**
 * `reconfig validate`: load every target (conf.d and the environment) and compile every template, with no etcd.
 * Problems go to stderr as plain lines, each with its file (or variable) and field; a summary goes to stdout.
 */
import { ConfigError, type RunResult } from '../errors';
import type { ModeContext } from './context';
import type { ValidatePlan } from './plan';
import { planTargets } from './targets';

export function validate(plan: ValidatePlan, cx: ModeContext): Promise<RunResult> {
  try {
    // No plugin code runs here (plugins are trusted code for the agent): they must only be there.
    const targets = planTargets(plan.config, cx.env, { loadPlugins: false, checkStateDir: false });
    cx.out(`${plan.config.cfgdir}: ${targets.length} target(s), every template compiles\n`);
    return Promise.resolve({ kind: 'ok' });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) cx.err(`${p.file}: ${p.message}\n`);
    cx.err(`${e.problems.length} problem(s)\n`);
    return Promise.resolve({ kind: 'invalid' });
  }
}

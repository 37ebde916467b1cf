/** Loading the targets for a mode: conf.d and the environment, and no target at all is an error unless allowed. */
import { loadTargets } from '../config/load';
import type { CompileOptions } from '../config/compile';
import type { Target } from '../target';
import type { ConfigPlan } from './plan';

export function planTargets(config: ConfigPlan, env: NodeJS.ProcessEnv, copts: CompileOptions = {}): Target[] {
  return loadTargets({ cfgdir: config.cfgdir, prefix: config.prefix, env, allowEmpty: config.allowEmpty, stateDir: config.stateDir }, copts);
}

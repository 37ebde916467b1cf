/**
 * Loads the targets: read them as data (read.ts: parse, schema, clashes), then compile them (compile.ts:
 * templates, rules, owners, plugins). Every problem in every definition is collected and thrown together as one
 * ConfigError, each naming its file or variable, before anything connects anywhere.
 */
import { ConfigError, type ConfigProblem } from '../errors';
import { compileTargets, type CompileOptions } from './compile';
import { readSpecs, type LoadOptions } from './read';
import type { Target } from '../target';

export type { LoadOptions } from './read';

export function loadTargets(opts: LoadOptions, copts: CompileOptions = {}): Target[] {
  const problems: ConfigProblem[] = [];
  const targets = compileTargets(readSpecs(opts, problems), opts, problems, copts);
  if (problems.length) throw new ConfigError(problems);
  return targets;
}

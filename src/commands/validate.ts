/**
 * `reconfig validate`: load every target (conf.d and the environment) and compile every template, with no etcd.
 * Problems go to stderr, one line each with its file (or variable) and field; a summary goes to stdout.
 */
import { loadTargets } from '../config/load';
import { ConfigError, type RunResult } from '../errors';

export interface ValidateOptions {
  cfgdir: string;
  prefix: string;
}

export function validate(opts: ValidateOptions, out: (text: string) => void, err: (text: string) => void): RunResult {
  try {
    // No plugin code runs here (plugins are trusted code for the agent): they must only be there.
    const targets = loadTargets({ cfgdir: opts.cfgdir, prefix: opts.prefix }, { loadPlugins: false });
    out(`${opts.cfgdir}: ${targets.length} target(s), every template compiles\n`);
    return { kind: 'ok' };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) err(`${p.file}: ${p.message}\n`);
    err(`${e.problems.length} problem(s)\n`);
    return { kind: 'invalid' };
  }
}

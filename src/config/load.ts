/**
 * Loads the targets: read them as data (read.ts: parse, schema, clashes), then compile them (compile.ts:
 * templates, rules, owners, plugins). Every problem in every definition is collected and thrown together as one
 * ConfigError, each naming its file or variable, before anything connects anywhere.
 */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, errorMessage, type ConfigProblem } from '../errors';
import { compileTargets, type CompileOptions } from './compile';
import { DEFAULT_STATE_DIR, readSpecs, type LoadOptions } from './read';
import type { Target } from '../target';

export type { LoadOptions } from './read';

export function loadTargets(opts: LoadOptions, copts: CompileOptions = {}): Target[] {
  const problems: ConfigProblem[] = [];
  const targets = compileTargets(readSpecs(opts, problems), opts, problems, copts);
  if (problems.length) throw new ConfigError(problems);
  if (copts.checkStateDir !== false) checkStateDir(targets, opts.stateDir ?? DEFAULT_STATE_DIR);
  return targets;
}

/**
 * A target that keeps a history needs a state directory it can write to, at start-up rather than at the first
 * apply. With no such target the directory is never looked at (nor created): history is off.
 */
function checkStateDir(targets: readonly Target[], stateDir: string): void {
  const asking = targets.filter((t) => t.history);
  if (asking.length === 0) return;
  const dir = path.resolve(stateDir);
  let why: string | undefined;
  try {
    if (!statSync(dir).isDirectory()) why = 'is not a directory';
    else accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' || code === 'EROFS' ? `cannot be written (${code})` : errorMessage(err);
  }
  if (why === undefined) return;
  throw new ConfigError(
    asking.map((t) => ({
      file: t.origin,
      message: `history: the state directory ${dir} (--state-dir) ${why}; create it (systemd's StateDirectory= does), pass another --state-dir, or drop "history"`,
    })),
  );
}

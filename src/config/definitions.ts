/**
 * Where target definitions and templates come from: conf.d/*.json files, and the environment, so that a
 * container image can ship reconfig with no files at all. `RECONFIG_TARGET_<name>` holds a target's JSON;
 * `RECONFIG_TEMPLATE_<name>` holds a template whose first line is its file name and the rest its body.
 * Each definition carries its origin (a file path, or `$RECONFIG_TARGET_<name>`) for messages.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type ConfigProblem, errorMessage } from '../errors';

export const TARGET_ENV = 'RECONFIG_TARGET_';
export const TEMPLATE_ENV = 'RECONFIG_TEMPLATE_';

export interface Definition {
  /** A conf.d file path, or `$RECONFIG_TARGET_<name>`. */
  origin: string;
  text: string;
}

export interface EnvTemplate {
  /** `$RECONFIG_TEMPLATE_<name>`. */
  origin: string;
  body: string;
}

function envEntries(env: NodeJS.ProcessEnv, prefix: string): Array<[string, string]> {
  return Object.entries(env)
    .filter((e): e is [string, string] => e[0].startsWith(prefix) && e[0].length > prefix.length && e[1] !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Every target definition: conf.d's files in name order, then the environment's in variable order. A missing
 * conf.d is an error only when the environment defines no target either.
 */
export function targetDefinitions(cfgdir: string, env: NodeJS.ProcessEnv, problems: ConfigProblem[]): Definition[] {
  const fromEnv = envEntries(env, TARGET_ENV).map(([name, text]) => ({ origin: `$${name}`, text }));
  const confd = path.join(cfgdir, 'conf.d');
  let names: string[] = [];
  try {
    names = readdirSync(confd).filter((n) => n.endsWith('.json')).sort();
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    if (!(missing && fromEnv.length > 0)) {
      const hint = missing ? ` (no such directory: give the configuration directory, which holds conf.d/ and templates/, with -c <dir>)` : '';
      throw new ConfigError([{ file: confd, message: `cannot read directory: ${errorMessage(err)}${hint}` }]);
    }
  }
  const fromFiles: Definition[] = [];
  for (const name of names) {
    const file = path.join(confd, name);
    try {
      fromFiles.push({ origin: file, text: readFileSync(file, 'utf8') });
    } catch (err) {
      problems.push({ file, message: `cannot read: ${errorMessage(err)}` });
    }
  }
  return [...fromFiles, ...fromEnv];
}

/** The files in conf.d that are not target definitions (`web.json.example`, confd's `web.toml`), sorted. */
export function ignoredFiles(confd: string): string[] {
  try {
    return readdirSync(confd, { withFileTypes: true })
      .filter((e) => !e.name.endsWith('.json') && !e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

/** Templates from the environment, by the file name on their first line. */
export function envTemplates(env: NodeJS.ProcessEnv, problems: ConfigProblem[]): Map<string, EnvTemplate> {
  const out = new Map<string, EnvTemplate>();
  for (const [name, value] of envEntries(env, TEMPLATE_ENV)) {
    const origin = `$${name}`;
    const nl = value.indexOf('\n');
    const fileName = (nl < 0 ? value : value.slice(0, nl)).trim();
    if (nl < 0 || fileName === '' || fileName.includes('/')) {
      problems.push({ file: origin, message: 'the first line must be the template\'s file name (no "/"), the lines after it its body' });
      continue;
    }
    const clash = out.get(fileName);
    if (clash) {
      problems.push({ file: origin, message: `template ${JSON.stringify(fileName)} is already defined by ${clash.origin}` });
      continue;
    }
    out.set(fileName, { origin, body: value.slice(nl + 1) });
  }
  return out;
}

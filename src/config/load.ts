/**
 * Loads conf.d: parses every file, validates it against the schema, compiles its template, resolves owners,
 * and checks that ids, keys and targets are unique. Every problem in every file is collected and thrown
 * together as one ConfigError, before anything connects anywhere.
 */
import type { ErrorObject } from 'ajv';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type ConfigProblem, errorMessage } from '../errors';
import { compileTemplate } from '../render/template';
import { parseDuration } from './duration';
import type { TargetSpec } from './schema';
import validate from './target-validator';
import type { Target } from './target';
import { clearIdCache, lookupId } from './owners';
import { uniquenessProblems } from './unique';

export interface LoadOptions {
  cfgdir: string;
  /** The global --prefix, already normalised (no trailing slash; "" for none). */
  prefix: string;
}


/** Formats one ajv error as `/field: message`, naming unknown fields and missing ones. */
function formatSchemaError(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties') {
    return `${e.instancePath}/${String(e.params.additionalProperty)}: unknown field`;
  }
  if (e.keyword === 'required') return `${e.instancePath}/${String(e.params.missingProperty)}: is required`;
  if (e.keyword === 'pattern' && e.instancePath === '/mode') return '/mode: must be an octal mode such as "0644"';
  if (e.keyword === 'pattern' && e.instancePath === '/key') return '/key: must begin with /';
  if (e.keyword === 'pattern') return `${e.instancePath}: must be a duration such as "500ms" or "30s"`;
  if (e.keyword === 'type' && e.instancePath === '/minkeys') return '/minkeys: must be a whole number';
  return `${e.instancePath || '/'}: ${e.message ?? 'is invalid'}`;
}

export function loadTargets(opts: LoadOptions): Target[] {
  const confd = path.join(opts.cfgdir, 'conf.d');
  const problems: ConfigProblem[] = [];
  let names: string[];
  try {
    names = readdirSync(confd).filter((n) => n.endsWith('.json')).sort();
  } catch (err) {
    throw new ConfigError([{ file: confd, message: `cannot read directory: ${errorMessage(err)}` }]);
  }
  clearIdCache();
  const targets: Target[] = [];
  const templates = new Map<string, Target['render'] | Error>();
  for (const name of names) {
    const file = path.join(confd, name);
    const t = loadOne(file, opts, problems, templates);
    if (t) targets.push(t);
  }
  problems.push(...uniquenessProblems(targets));
  if (problems.length) throw new ConfigError(problems);
  return targets;
}

/** Compiled templates by path: targets that share a template compile it once. */
type TemplateCache = Map<string, Target['render'] | Error>;

function loadOne(file: string, opts: LoadOptions, problems: ConfigProblem[], templates: TemplateCache): Target | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    problems.push({ file, message: `invalid JSON: ${errorMessage(err)}` });
    return undefined;
  }
  if (!validate(raw)) {
    for (const e of validate.errors ?? []) problems.push({ file, message: formatSchemaError(e) });
    return undefined;
  }
  return resolve(raw, file, opts, problems, templates);
}

function compileCached(source: string, templates: TemplateCache): Target['render'] | Error {
  let compiled = templates.get(source);
  if (!compiled) {
    try {
      compiled = existsSync(source)
        ? compileTemplate(source, readFileSync(source, 'utf8'))
        : new Error(`template not found: ${source}`);
    } catch (err) {
      compiled = err instanceof Error ? err : new Error(errorMessage(err));
    }
    templates.set(source, compiled);
  }
  return compiled;
}

function resolve(
  spec: TargetSpec,
  file: string,
  opts: LoadOptions,
  problems: ConfigProblem[],
  templates: TemplateCache,
): Target | undefined {
  const before = problems.length;
  const source = path.resolve(opts.cfgdir, 'templates', spec.source);
  const compiled = compileCached(source, templates);
  const render = compiled instanceof Error ? undefined : compiled;
  if (compiled instanceof Error) problems.push({ file, message: `/source: ${compiled.message}` });
  // "/app/" means "/app"; "/" alone means everything under the global prefix.
  const key = spec.key.replace(/\/+$/, '');
  if (key === '' && opts.prefix === '') {
    problems.push({ file, message: '/key: "/" would watch the whole keyspace; give a narrower key or a --prefix' });
  }
  if (spec.reloadcmd !== undefined && spec.reloadsignal !== undefined) {
    problems.push({ file, message: '/reloadsignal: give either reloadcmd or reloadsignal, not both' });
  }
  const wait = spec.wait ? waitWindow(spec.wait) : undefined;
  if (wait && wait.maxMs < wait.minMs) problems.push({ file, message: '/wait/max: must not be shorter than /wait/min' });
  const uid = spec.owner === undefined ? undefined : lookupId('passwd', spec.owner, file, '/owner', problems);
  const gid = spec.group === undefined ? undefined : lookupId('group', spec.group, file, '/group', problems);
  if (problems.length > before || !render) return undefined;
  return {
    id: spec.id,
    origin: file,
    source,
    render,
    dest: path.resolve(opts.cfgdir, spec.target),
    key: key || '/',
    etcdKey: opts.prefix + key,
    recursive: spec.recursive,
    checkcmd: spec.checkcmd,
    reloadcmd: spec.reloadcmd,
    reloadsignal: spec.reloadsignal && {
      pidfile: path.resolve(opts.cfgdir, spec.reloadsignal.pidfile),
      signal: spec.reloadsignal.signal as NodeJS.Signals,
    },
    mode: spec.mode === undefined ? undefined : parseInt(spec.mode, 8),
    uid,
    gid,
    timeoutMs: parseDuration(spec.timeout),
    minkeys: spec.minkeys,
    wait,
  };
}

/** consul-template's wait: max defaults to four times min. */
function waitWindow(w: NonNullable<TargetSpec['wait']>): NonNullable<Target['wait']> {
  const minMs = parseDuration(w.min);
  return { minMs, maxMs: w.max === undefined ? 4 * minMs : parseDuration(w.max) };
}

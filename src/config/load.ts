/**
 * Loads the targets (conf.d files and RECONFIG_TARGET_* variables, see sources.ts): parses each, validates it
 * against the schema, compiles its template, resolves owners, and checks that ids, keys and targets are unique.
 * Every problem in every definition is collected and thrown together as one ConfigError, naming its file or
 * variable, before anything connects anywhere.
 */
import type { ErrorObject } from 'ajv';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type ConfigProblem, errorMessage } from '../errors';
import { PluginLoader, type Plugin } from '../render/plugin';
import { compileTemplate } from '../render/template';
import { parseDuration } from './duration';
import { CROSS_FIELD_RULES, type TargetSpec } from './schema';
import validate from './target-validator';
import type { Target } from './target';
import { IdLookup } from './owners';
import { envTemplates, targetDefinitions, type Definition, type EnvTemplate } from './sources';
import { uniquenessProblems, type Identity } from './unique';
import { RuleCompiler } from './rules';
import { valueCheck } from '../render/values';

export interface LoadOptions {
  cfgdir: string;
  /** The global --prefix, already normalised (no trailing slash; "" for none). */
  prefix: string;
  /** Where RECONFIG_TARGET_* and RECONFIG_TEMPLATE_* come from (process.env by default). */
  env?: NodeJS.ProcessEnv;
}


/** Formats one ajv error as `/field: message`, naming unknown fields and missing ones. */
function formatSchemaError(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties') {
    return `${e.instancePath}/${String(e.params.additionalProperty)}: unknown field`;
  }
  // A rule between fields (schema.ts's CROSS_FIELD_RULES) speaks through its $comment.
  const rule = /^#\/allOf\/(\d+)\//.exec(e.schemaPath);
  if (rule) return String(CROSS_FIELD_RULES[Number(rule[1])].$comment);
  if (e.keyword === 'required') return `${e.instancePath}/${String(e.params.missingProperty)}: is required`;
  if (e.keyword === 'pattern' && e.instancePath === '/mode') return '/mode: must be an octal mode such as "0644"';
  if (e.keyword === 'pattern' && e.instancePath === '/key') return '/key: must begin with /';
  if (e.keyword === 'pattern') return `${e.instancePath}: must be a duration such as "500ms" or "30s"`;
  if (e.keyword === 'type' && e.instancePath === '/minkeys') return '/minkeys: must be a whole number';
  return `${e.instancePath || '/'}: ${e.message ?? 'is invalid'}`;
}

export function loadTargets(opts: LoadOptions): Target[] {
  const env = opts.env ?? process.env;
  const problems: ConfigProblem[] = [];
  const definitions = targetDefinitions(opts.cfgdir, env, problems);
  const cache: TemplateCache = { compiled: new Map(), fromEnv: envTemplates(env, problems), rules: new RuleCompiler(), ids: new IdLookup(), plugins: new PluginLoader() };
  const targets: Target[] = [];
  const identities: Identity[] = [];
  for (const def of definitions) {
    const spec = parseOne(def, problems);
    if (!spec) continue;
    identities.push({ id: spec.id, origin: def.origin, etcdKey: etcdKeyOf(spec, opts.prefix), dest: destOf(spec, opts) });
    const t = resolve(spec, def.origin, opts, problems, cache);
    if (t) targets.push(t);
  }
  problems.push(...uniquenessProblems(identities));
  if (problems.length) throw new ConfigError(problems);
  return targets;
}

/** Compiled templates by path (targets that share a template compile it once), and the environment's. */
interface TemplateCache {
  compiled: Map<string, Target['render'] | Error>;
  fromEnv: Map<string, EnvTemplate>;
  /** `values` rules' schemas, compiled once per load. */
  rules: RuleCompiler;
  /** owner and group names, looked up once per load. */
  ids: IdLookup;
  /** Plugins, read afresh once per load. */
  plugins: PluginLoader;
}

/** The key as written, without trailing slashes ("/app/" means "/app"; "/" alone stays "/"). */
function keyOf(spec: TargetSpec): string | undefined {
  const key = spec.key?.replace(/\/+$/, '');
  return key === undefined ? undefined : key || '/';
}

function etcdKeyOf(spec: TargetSpec, prefix: string): string | undefined {
  const key = keyOf(spec);
  return key === undefined ? undefined : prefix + (key === '/' ? '' : key);
}

function destOf(spec: TargetSpec, opts: LoadOptions): string {
  return path.resolve(opts.cfgdir, spec.target);
}

/** Parses and validates one definition against the schema (which applies the defaults). */
function parseOne(def: Definition, problems: ConfigProblem[]): TargetSpec | undefined {
  const file = def.origin;
  let raw: unknown;
  try {
    raw = JSON.parse(def.text);
  } catch (err) {
    problems.push({ file, message: `invalid JSON: ${errorMessage(err)}` });
    return undefined;
  }
  if (!validate(raw)) {
    // An `if` error only repeats the `then` error that comes with it.
    // One message per rule, however many of ajv's errors it took (an `if` error only repeats its `then`).
    const messages = new Set((validate.errors ?? []).filter((e) => e.keyword !== 'if').map(formatSchemaError));
    for (const message of messages) problems.push({ file, message });
    return undefined;
  }
  return raw;
}

/** `key` is the template's path, or `$RECONFIG_TEMPLATE_<name>` for one from the environment. */
function compileCached(key: string, read: () => string | null, cache: TemplateCache): Target['render'] | Error {
  let compiled = cache.compiled.get(key);
  if (!compiled) {
    try {
      const text = read();
      compiled = text === null ? new Error(`template not found: ${key}`) : compileTemplate(key, text);
    } catch (err) {
      compiled = err instanceof Error ? err : new Error(errorMessage(err));
    }
    cache.compiled.set(key, compiled);
  }
  return compiled;
}

function resolve(
  spec: TargetSpec,
  file: string,
  opts: LoadOptions,
  problems: ConfigProblem[],
  cache: TemplateCache,
): Target | undefined {
  const before = problems.length;
  // A template from the environment, named by its file name, comes before templates/.
  const fromEnv = cache.fromEnv.get(spec.source);
  const source = fromEnv ? fromEnv.origin : path.resolve(opts.cfgdir, 'templates', spec.source);
  const compiled = fromEnv
    ? compileCached(source, () => fromEnv.body, cache)
    : compileCached(source, () => (existsSync(source) ? readFileSync(source, 'utf8') : null), cache);
  const render = compiled instanceof Error ? undefined : compiled;
  if (compiled instanceof Error) problems.push({ file, message: `/source: ${compiled.message}` });
  // "/" alone means everything under the global prefix.
  const key = keyOf(spec);
  if (key === '/' && opts.prefix === '') {
    problems.push({ file, message: '/key: "/" would watch the whole keyspace; give a narrower key or a --prefix' });
  }
  const plugin = spec.plugin === undefined ? undefined : pluginOf(cache.plugins, path.resolve(opts.cfgdir, spec.plugin), file, problems);
  const wait = spec.wait ? waitWindow(spec.wait) : undefined;
  if (wait && wait.maxMs < wait.minMs) problems.push({ file, message: '/wait/max: must not be shorter than /wait/min' });
  const rules = spec.values ? cache.rules.compile(spec.values, key, file, problems) : [];
  const uid = spec.owner === undefined ? undefined : cache.ids.resolve('passwd', spec.owner, file, '/owner', problems);
  const gid = spec.group === undefined ? undefined : cache.ids.resolve('group', spec.group, file, '/group', problems);
  if (problems.length > before || !render) return undefined;
  return {
    id: spec.id,
    origin: file,
    source,
    render,
    dest: destOf(spec, opts),
    key,
    etcdKey: etcdKeyOf(spec, opts.prefix),
    plugin,
    intervalMs: spec.interval === undefined ? undefined : parseDuration(spec.interval),
    docker: spec.docker && { socket: path.resolve(opts.cfgdir, spec.docker.socket), filters: spec.docker.filters ?? {} },
    notify: spec.notify && {
      socket: path.resolve(opts.cfgdir, spec.notify.socket),
      filters: spec.notify.filters,
      signal: spec.notify.signal as NodeJS.Signals,
      restart: spec.notify.restart,
    },
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
    checkValue: valueCheck(spec.multiline, rules),
  };
}

function pluginOf(plugins: PluginLoader, file: string, origin: string, problems: ConfigProblem[]): Plugin | undefined {
  try {
    return plugins.load(file);
  } catch (err) {
    problems.push({ file: origin, message: `/plugin: ${errorMessage(err)}` });
    return undefined;
  }
}

/** consul-template's wait: max defaults to four times min. */
function waitWindow(w: NonNullable<TargetSpec['wait']>): NonNullable<Target['wait']> {
  const minMs = parseDuration(w.min);
  return { minMs, maxMs: w.max === undefined ? 4 * minMs : parseDuration(w.max) };
}

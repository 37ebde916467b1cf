/**
 * Reading the targets as data: every definition (conf.d files and RECONFIG_TARGET_* variables, see
 * sources.ts) parsed and validated against the schema, which applies the defaults and holds the rules between
 * fields, then checked for clashes. Nothing here compiles, loads or looks anything up: the result is plain specs.
 */
import type { ErrorObject } from 'ajv';
import path from 'node:path';
import { type ConfigProblem, errorMessage } from '../errors';
import { parseDuration } from './duration';
import { CROSS_FIELD_RULES, type TargetSpec } from './schema';
import validate from './target-validator';
import { ignoredFiles, targetDefinitions, type Definition } from './definitions';
import { uniquenessProblems } from './unique';

export interface LoadOptions {
  cfgdir: string;
  /** The global --prefix, already normalised (no trailing slash; "" for none). */
  prefix: string;
  /** Where RECONFIG_TARGET_* and RECONFIG_TEMPLATE_* come from (process.env by default). */
  env?: NodeJS.ProcessEnv;
  /** No target at all is fine (--allow-empty); otherwise it is a problem naming the files that were ignored. */
  allowEmpty?: boolean;
  /** Where targets with `history` keep their versions (--state-dir); default DEFAULT_STATE_DIR. */
  stateDir?: string;
}

export const DEFAULT_STATE_DIR = '/var/lib/reconfig';

/** One target as written (defaults applied), where it came from, and what makes it unique. */
export interface ReadSpec {
  spec: TargetSpec;
  /** A conf.d file path, or `$RECONFIG_TARGET_<name>`. */
  origin: string;
  /** The target's own key as written (`key`, else the first of `keys`), without trailing slashes ("/" for everything under the prefix); undefined without one. */
  key: string | undefined;
  /** The target's own key in etcd: the prefix and the key. */
  etcdKey: string | undefined;
  /** Every key it reads, its own first: as written (for messages) and in etcd. */
  keys: ReadKey[];
  /** Its files (one for `source` and `target`), each with its absolute path and the field it came from. */
  files: ReadFile[];
  /** Absolute path of the file to write. */
  dest: string;
}

export interface ReadFile {
  source: string;
  /** Absolute path of the file to write. */
  dest: string;
  name: string;
  mode?: string;
  owner?: string | number;
  group?: string | number;
  /** Where its fields were written, for messages: "" (the target's own) or `/files/<n>`. */
  field: string;
}

export interface ReadKey {
  /** As written, without trailing slashes; "/" for everything under the prefix. */
  key: string;
  etcdKey: string;
  recursive: boolean;
  /** Where it was written, for messages: `/key` or `/keys/<n>`. */
  field: string;
}

/** Every valid definition as a ReadSpec; every problem (with its file or variable) goes to `problems`. */
export function readSpecs(opts: LoadOptions, problems: ConfigProblem[]): ReadSpec[] {
  const env = opts.env ?? process.env;
  const specs: ReadSpec[] = [];
  for (const def of targetDefinitions(opts.cfgdir, env, problems)) {
    const spec = parseOne(def, problems);
    if (!spec) continue;
    const keys = readKeys(spec, opts.prefix, def.origin, problems);
    const files = readFiles(spec, opts.cfgdir, def.origin, problems);
    const read: ReadSpec = {
      spec,
      origin: def.origin,
      key: keys[0]?.key,
      etcdKey: keys[0]?.etcdKey,
      keys,
      files,
      dest: files[0].dest,
    };
    // A rule the schema cannot hold: it does not see the durations' values.
    if (spec.wait?.max !== undefined && parseDuration(spec.wait.max) < parseDuration(spec.wait.min)) {
      problems.push({ file: def.origin, message: '/wait/max: must not be shorter than /wait/min' });
    }
    specs.push(read);
  }
  if (specs.length === 0 && problems.length === 0 && !opts.allowEmpty) problems.push(noTargets(opts.cfgdir));
  // Checked for every definition that passed the schema, so that one run reports every problem.
  problems.push(...uniquenessProblems(specs.map((s) => ({ id: s.spec.id, origin: s.origin, etcdKey: s.etcdKey, dests: s.files.map((f) => f.dest) }))));
  return specs;
}

/** A target's files: its one `source`/`target`, or each of `files`; names unique within the target. */
function readFiles(spec: TargetSpec, cfgdir: string, file: string, problems: ConfigProblem[]): ReadFile[] {
  const written = spec.files?.map((f, i) => ({ ...f, field: `/files/${i}` })) ?? [
    // The schema holds source and target when files is absent.
    { source: spec.source!, target: spec.target!, name: undefined, mode: spec.mode, owner: spec.owner, group: spec.group, field: '' },
  ];
  const out: ReadFile[] = [];
  const names = new Map<string, string>();
  for (const w of written) {
    const dest = path.resolve(cfgdir, w.target);
    const name = w.name ?? path.basename(dest);
    const clash = names.get(name);
    if (clash !== undefined) {
      problems.push({ file, message: `${w.field}/name: ${JSON.stringify(name)} is already the name of ${clash}: give each file its own "name" (checkcmd's {{src.<name>}})` });
    }
    names.set(name, w.field || '/target');
    out.push({ source: w.source, dest, name, mode: w.mode, owner: w.owner, group: w.group, field: w.field });
  }
  return out;
}

/**
 * A target's keys, its own (`key`, else the first of `keys`) first. Rules the schema cannot hold: "/" needs a
 * --prefix (which the schema does not see), and no key may lie within another of the same target (it would be
 * read twice).
 */
function readKeys(spec: TargetSpec, prefix: string, file: string, problems: ConfigProblem[]): ReadKey[] {
  const written: Array<{ key: string; recursive: boolean; field: string }> = [];
  if (spec.key !== undefined) written.push({ key: spec.key, recursive: spec.recursive, field: '/key' });
  spec.keys?.forEach((e, i) => {
    const entry = typeof e === 'string' ? { key: e, recursive: spec.recursive } : { key: e.key, recursive: e.recursive ?? spec.recursive };
    written.push({ ...entry, field: `/keys/${i}` });
  });
  const keys: ReadKey[] = [];
  for (const w of written) {
    const key = w.key.replace(/\/+$/, '') || '/';
    const k: ReadKey = { key, etcdKey: prefix + (key === '/' ? '' : key), recursive: w.recursive, field: w.field };
    if (key === '/' && prefix === '') {
      problems.push({ file, message: `${w.field}: "/" would watch the whole keyspace; give a narrower key or a --prefix` });
      continue;
    }
    const within = keys.find((o) => wants(o, k.etcdKey) || wants(k, o.etcdKey));
    if (within) {
      problems.push({ file, message: `${w.field}: ${JSON.stringify(w.key)} overlaps ${within.field} (${JSON.stringify(within.key)}): a key would be read twice` });
      continue;
    }
    keys.push(k);
  }
  return keys;
}

/** True when `k` reads etcd key `key` (`/app` never reads `/apple`). */
function wants(k: { etcdKey: string; recursive: boolean }, key: string): boolean {
  if (key === k.etcdKey) return true;
  return k.recursive && key.startsWith(k.etcdKey === '' ? '/' : `${k.etcdKey}/`);
}

/**
 * Nothing to do is not success: a conf.d holding only what the package installs (`*.json.example`) or confd's
 * `*.toml` would otherwise let a bootstrap pass having configured nothing.
 */
function noTargets(cfgdir: string): ConfigProblem {
  const confd = path.join(cfgdir, 'conf.d');
  const ignored = ignoredFiles(confd);
  const what = ignored.length ? `only files that are not targets (${ignored.join(', ')}): a target's file name ends in .json` : 'no target file (*.json)';
  return { file: confd, message: `no targets: ${what}; and no RECONFIG_TARGET_* variable. Pass --allow-empty if that is intended` };
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
    // One message per rule, however many of ajv's errors it took (an `if` error only repeats its `then`).
    const messages = new Set((validate.errors ?? []).filter((e) => e.keyword !== 'if').map(formatSchemaError));
    for (const message of messages) problems.push({ file, message });
    return undefined;
  }
  return raw;
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

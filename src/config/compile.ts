/**
 * Compiling read specs (read.ts) into the Targets the agent runs: templates compiled, `values` rules compiled,
 * owners looked up, plugins loaded, paths and durations resolved. Everything it builds is cached for this one
 * compile (targets sharing a template or a plugin share it), and nothing outlives it: a SIGHUP compiles afresh.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type ConfigProblem, errorMessage } from '../errors';
import { PluginLoader, resolvePlugin, type Plugin } from '../render/plugin';
import { compileTemplate } from '../render/template';
import { valueCheck } from '../render/values';
import { parseDuration } from './duration';
import { IdLookup } from './owners';
import { DEFAULT_STATE_DIR, type LoadOptions, type ReadFile, type ReadSpec } from './read';
import { RuleCompiler } from './rules';
import type { TargetSpec } from './schema';
import { envTemplates, type EnvTemplate } from './definitions';
import type { Render, Target, TargetFile } from '../target';

export interface CompileOptions {
  /**
   * Load each plugin (run its module's top-level code) and check that it exports get(). `validate` says false:
   * it only checks that the module can be found, and runs no user code.
   */
  loadPlugins?: boolean;
  /** Check that targets with `history` can write the state directory (load.ts); `validate` says false. */
  checkStateDir?: boolean;
}

/** The Targets for `specs`; a spec with a problem (reported, with its file) is left out. */
export function compileTargets(specs: readonly ReadSpec[], opts: LoadOptions, problems: ConfigProblem[], copts: CompileOptions = {}): Target[] {
  const c = new Compiler(opts, problems, copts);
  return specs.flatMap((s) => c.target(s) ?? []);
}

class Compiler {
  private readonly templates = new Map<string, Render | Error>();
  private readonly fromEnv: Map<string, EnvTemplate>;
  private readonly rules = new RuleCompiler();
  private readonly ids = new IdLookup();
  private readonly plugins = new PluginLoader();

  constructor(
    private readonly opts: LoadOptions,
    private readonly problems: ConfigProblem[],
    private readonly copts: CompileOptions,
  ) {
    this.fromEnv = envTemplates(opts.env ?? process.env, problems);
  }

  target(r: ReadSpec): Target | undefined {
    const { spec, origin: file } = r;
    const { cfgdir } = this.opts;
    const problems = this.problems;
    const before = problems.length;
    const files = r.files.map((f) => this.file(f, file));
    const plugin = spec.plugin === undefined ? undefined : this.plugin(path.resolve(cfgdir, spec.plugin), file);
    const rules = spec.values ? this.rules.compile(spec.values, r.key, file, problems) : [];
    if (problems.length > before || files.some((f) => f === undefined)) return undefined;
    return {
      id: spec.id,
      origin: file,
      files: files as TargetFile[],
      dest: r.dest,
      key: r.key,
      keys: r.keys.map((k) => ({ key: k.etcdKey, recursive: k.recursive, local: k.key })),
      plugin,
      intervalMs: spec.interval === undefined ? undefined : parseDuration(spec.interval),
      docker: spec.docker && { socket: path.resolve(cfgdir, spec.docker.socket), filters: spec.docker.filters ?? {} },
      notify: spec.notify && {
        socket: path.resolve(cfgdir, spec.notify.socket),
        filters: spec.notify.filters,
        signal: spec.notify.signal as NodeJS.Signals,
        restart: spec.notify.restart,
      },
      checkcmd: spec.checkcmd,
      reloadcmd: spec.reloadcmd,
      reloadsignal: spec.reloadsignal && {
        pidfile: path.resolve(cfgdir, spec.reloadsignal.pidfile),
        signal: spec.reloadsignal.signal as NodeJS.Signals,
      },
      timeoutMs: parseDuration(spec.timeout),
      verify: spec.verify && { cmd: spec.verify.cmd, withinMs: parseDuration(spec.verify.within), everyMs: parseDuration(spec.verify.every) },
      history: spec.history ? { keep: spec.history === true ? 5 : spec.history, dir: path.join(path.resolve(this.opts.stateDir ?? DEFAULT_STATE_DIR), historyName(spec.id)) } : undefined,
      minkeys: spec.minkeys,
      wait: spec.wait && waitWindow(spec.wait),
      splayMs: spec.splay === undefined ? undefined : parseDuration(spec.splay),
      checkValue: valueCheck(spec.multiline, rules),
      ...(spec.rollout ? { rollout: { bakeMs: parseDuration(spec.rollout.bake), minhosts: spec.rollout.minhosts } } : {}),
    };
  }

  /** One file of a target: its template compiled, its owner and group looked up; undefined after a problem. */
  private file(f: ReadFile, file: string): TargetFile | undefined {
    const before = this.problems.length;
    const { source, render } = this.template(f.source, file, f.field);
    const uid = f.owner === undefined ? undefined : this.ids.resolve('passwd', f.owner, file, `${f.field}/owner`, this.problems);
    const gid = f.group === undefined ? undefined : this.ids.resolve('group', f.group, file, `${f.field}/group`, this.problems);
    if (this.problems.length > before || !render) return undefined;
    return { name: f.name, source, render, dest: f.dest, mode: f.mode === undefined ? undefined : parseInt(f.mode, 8), uid, gid };
  }

  /** A template from the environment, named by its file name, comes before templates/. */
  private template(name: string, file: string, field: string): { source: string; render?: Render } {
    const fromEnv = this.fromEnv.get(name);
    const source = fromEnv ? fromEnv.origin : path.resolve(this.opts.cfgdir, 'templates', name);
    let compiled = this.templates.get(source);
    if (!compiled) {
      try {
        const text = fromEnv ? fromEnv.body : existsSync(source) ? readFileSync(source, 'utf8') : null;
        compiled = text === null ? new Error(`template not found: ${source}`) : compileTemplate(source, text);
      } catch (err) {
        compiled = err instanceof Error ? err : new Error(errorMessage(err));
      }
      this.templates.set(source, compiled);
    }
    if (!(compiled instanceof Error)) return { source, render: compiled };
    this.problems.push({ file, message: `${field}/source: ${compiled.message}` });
    return { source };
  }

  private plugin(file: string, origin: string): Plugin | undefined {
    try {
      if (this.copts.loadPlugins === false) {
        resolvePlugin(file);
        return undefined;
      }
      return this.plugins.load(file);
    } catch (err) {
      const notFound = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && errorMessage(err).includes(file);
      this.problems.push({ file: origin, message: `/plugin: ${notFound ? `plugin not found: ${file}` : errorMessage(err)}` });
      return undefined;
    }
  }
}

/** consul-template's wait: max defaults to four times min. */
function waitWindow(w: NonNullable<TargetSpec['wait']>): NonNullable<Target['wait']> {
  const minMs = parseDuration(w.min);
  return { minMs, maxMs: w.max === undefined ? 4 * minMs : parseDuration(w.max) };
}

/** A target's directory name under the state directory: its id, with what a file name cannot hold escaped. */
export function historyName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).replace(/^\.{1,2}$/, (d) => d.replace(/\./g, '%2e'));
}

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
import type { LoadOptions, ReadSpec } from './read';
import { RuleCompiler } from './rules';
import type { TargetSpec } from './schema';
import { envTemplates, type EnvTemplate } from './sources';
import type { Target } from './target';

export interface CompileOptions {
  /**
   * Load each plugin (run its module's top-level code) and check that it exports get(). `validate` says false:
   * it only checks that the module can be found, and runs no user code.
   */
  loadPlugins?: boolean;
}

/** The Targets for `specs`; a spec with a problem (reported, with its file) is left out. */
export function compileTargets(specs: readonly ReadSpec[], opts: LoadOptions, problems: ConfigProblem[], copts: CompileOptions = {}): Target[] {
  const c = new Compiler(opts, problems, copts);
  return specs.flatMap((s) => c.target(s) ?? []);
}

class Compiler {
  private readonly templates = new Map<string, Target['render'] | Error>();
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
    const { source, render } = this.template(spec, file);
    const plugin = spec.plugin === undefined ? undefined : this.plugin(path.resolve(cfgdir, spec.plugin), file);
    const rules = spec.values ? this.rules.compile(spec.values, r.key, file, problems) : [];
    const uid = spec.owner === undefined ? undefined : this.ids.resolve('passwd', spec.owner, file, '/owner', problems);
    const gid = spec.group === undefined ? undefined : this.ids.resolve('group', spec.group, file, '/group', problems);
    if (problems.length > before || !render) return undefined;
    return {
      id: spec.id,
      origin: file,
      source,
      render,
      dest: r.dest,
      key: r.key,
      etcdKey: r.etcdKey,
      plugin,
      intervalMs: spec.interval === undefined ? undefined : parseDuration(spec.interval),
      docker: spec.docker && { socket: path.resolve(cfgdir, spec.docker.socket), filters: spec.docker.filters ?? {} },
      notify: spec.notify && {
        socket: path.resolve(cfgdir, spec.notify.socket),
        filters: spec.notify.filters,
        signal: spec.notify.signal as NodeJS.Signals,
        restart: spec.notify.restart,
      },
      recursive: spec.recursive,
      checkcmd: spec.checkcmd,
      reloadcmd: spec.reloadcmd,
      reloadsignal: spec.reloadsignal && {
        pidfile: path.resolve(cfgdir, spec.reloadsignal.pidfile),
        signal: spec.reloadsignal.signal as NodeJS.Signals,
      },
      mode: spec.mode === undefined ? undefined : parseInt(spec.mode, 8),
      uid,
      gid,
      timeoutMs: parseDuration(spec.timeout),
      minkeys: spec.minkeys,
      wait: spec.wait && waitWindow(spec.wait),
      splayMs: spec.splay === undefined ? undefined : parseDuration(spec.splay),
      checkValue: valueCheck(spec.multiline, rules),
    };
  }

  /** A template from the environment, named by its file name, comes before templates/. */
  private template(spec: TargetSpec, file: string): { source: string; render?: Target['render'] } {
    const fromEnv = this.fromEnv.get(spec.source);
    const source = fromEnv ? fromEnv.origin : path.resolve(this.opts.cfgdir, 'templates', spec.source);
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
    this.problems.push({ file, message: `/source: ${compiled.message}` });
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

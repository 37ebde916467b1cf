/**
 * Plugins (pyconfd's idea): a JS module whose exported get(context) returns, or resolves to, an object that the
 * template sees as `plugin`, beside `reconfigdata`. Plugins are trusted code: they run inside reconfig with its
 * privileges, so keep them where only root can write. A plugin that throws, times out or gives no object makes
 * a failed render: the target is left untouched and the plugin is tried again.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { PluginError, errorMessage } from '../errors';
import type { Plugin, PluginContext, PluginGet } from '../target';

export type { Plugin, PluginContext, PluginGet } from '../target';

/**
 * Loads plugins for one load of the configuration. Each plugin's own file is read afresh by the first target
 * of a load that names it (so a SIGHUP picks up an edited plugin), and shared by the others in that load; the
 * module it replaces is let go. Modules a plugin requires stay as Node cached them.
 */
export class PluginLoader {
  private readonly loaded = new Map<string, Plugin>();

  /** Loads the module at `file` and checks that it exports get(). Throws an Error that says what is wrong. */
  load(file: string): Plugin {
    let plugin = this.loaded.get(file);
    if (!plugin) {
      plugin = loadPlugin(file);
      this.loaded.set(file, plugin);
    }
    return plugin;
  }
}

/**
 * A require() for the plugin at `file`: inside the single executable, a module's own require() loads only Node's
 * built-in modules. This one shares the process's module cache.
 */
function pluginRequire(file: string): NodeJS.Require {
  return createRequire(path.resolve(file));
}

/** Where the plugin at `file` would load from, without running it; throws MODULE_NOT_FOUND as require() does. */
export function resolvePlugin(file: string): string {
  return pluginRequire(file).resolve(file);
}

function loadPlugin(file: string): Plugin {
  let mod: unknown;
  const load = pluginRequire(file);
  try {
    forget(file, load);
    // Plugins are user code chosen at run time: require() is the way to load them.
    mod = load(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const notFound = code === 'MODULE_NOT_FOUND' && errorMessage(err).includes(file);
    throw new Error(notFound ? `plugin not found: ${file}` : `plugin ${file} failed to load: ${errorMessage(err)}`, { cause: err });
  }
  const get = (mod as { get?: unknown } | null)?.get ?? (mod as { default?: { get?: unknown } } | null)?.default?.get;
  if (typeof get !== 'function') throw new Error(`plugin ${file} does not export a get(context) function`);
  return { path: path.resolve(file), get: get as PluginGet };
}

/**
 * Lets go of the module Node holds for `file`, so that require() reads the file afresh and the old module (its
 * exports, and all that they hold) can be collected. Node keeps it twice: in require.cache, and in the
 * `children` of the module that required it, this one; the second is not dropped with the first, so without
 * this every version ever loaded, one per SIGHUP, stays alive.
 */
function forget(file: string, load: NodeJS.Require): void {
  let resolved: string;
  try {
    resolved = load.resolve(file);
  } catch {
    return; // Not resolvable: require() says so in its own words.
  }
  const old = load.cache[resolved];
  if (!old) return;
  delete load.cache[resolved];
  // The module that loaded it lists it among its children: drop that reference too, or the old module lives on.
  // (A createRequire() parent is dropped with its require(); this module is checked as well. Inside the single
  // executable's bundle `module` has no children list: there is nothing to drop.)
  for (const parent of [old.parent, module]) {
    const kids: NodeJS.Module[] | undefined = parent?.children;
    const i = kids?.indexOf(old) ?? -1;
    if (kids && i !== -1) kids.splice(i, 1);
  }
}

/**
 * Runs the plugin with a deadline; resolves to the object it gave, or throws PluginError. The plugin's signal
 * aborts at the deadline, or when `stop` does (the agent is stopping).
 */
export async function runPlugin(plugin: Plugin, context: Omit<PluginContext, 'signal'>, timeoutMs: number, stop?: AbortSignal): Promise<object> {
  const abort = new AbortController();
  const timedOut = new PluginError(`plugin ${plugin.path} gave no answer within ${timeoutMs} ms`);
  let timer: NodeJS.Timeout | undefined;
  const onStop = (): void => abort.abort();
  stop?.addEventListener('abort', onStop, { once: true });
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(timedOut);
    }, timeoutMs);
  });
  let result: unknown;
  try {
    result = await Promise.race([Promise.resolve().then(() => plugin.get({ ...context, signal: abort.signal })), late]);
  } catch (err) {
    if (err === timedOut) throw err;
    throw new PluginError(`plugin ${plugin.path} failed: ${errorMessage(err)}`, { cause: err });
  } finally {
    clearTimeout(timer);
    stop?.removeEventListener('abort', onStop);
  }
  if (result === null || typeof result !== 'object') {
    throw new PluginError(`plugin ${plugin.path}: get() gave ${result === null ? 'null' : typeof result}, not an object`);
  }
  return result;
}

/**
 * A target as every layer sees it (config builds it, render and apply use it, the agent runs it), and the few
 * types it is made of. It lives below all of them so that none owns it: config/compile.ts fills it in, and
 * render/, apply/, docker/ and agent/ import it from here, never from each other.
 */

/** A target's data as templates and plugins see it: key (without the global prefix) -> value. */
export type Data = Readonly<Record<string, string>>;

/**
 * What a template may see beside reconfigdata and the helpers: its plugin's object, and each input a source
 * gives it by name (agent/wire.ts).
 */
export type Extras = Readonly<Record<string, unknown>>;

/**
 * A compiled template: pure, it renders data (and extras) to the file's text. `scope` is the target's keys as
 * templates see them: a helper asked for a key outside all of them says so, naming them.
 */
export type Render = (data: Data, extras?: Extras, scope?: readonly Scope[]) => string;

/** One key a target reads, as templates see it. */
export interface Scope {
  local: string;
  recursive: boolean;
}

/** Why one key cannot be rendered: a control character fails the render, a broken rule holds the target. */
export interface ValueProblem {
  key: string;
  kind: 'control' | 'rule';
  message: string;
}

/** Checks one key and its value; undefined when both may be rendered. */
export type ValueCheck = (key: string, value: string) => ValueProblem | undefined;

/** What a plugin's get() is given. */
export interface PluginContext {
  /** The target's id. */
  target: string;
  /** The target's data from etcd (empty for a target with no key), as the template sees it. */
  data: Data;
  /** Aborted when the plugin's time is up. */
  signal: AbortSignal;
}

export type PluginGet = (context: PluginContext) => unknown;

/** A loaded plugin (render/plugin.ts). */
export interface Plugin {
  /** Absolute path of the module. */
  path: string;
  get: PluginGet;
}

/** Where a target's containers come from (docker/). */
export interface DockerOptions {
  /** The Engine API's Unix socket. */
  socket: string;
  /** Docker's own list filters, e.g. {"label": ["app=web"], "name": ["web"]}. */
  filters: Record<string, string[]>;
}

/** A key a target reads: the key in etcd (the global prefix and the key as written), and whether it is a prefix. */
export interface TargetKey {
  key: string;
  /** `true`: every key strictly under `key/`, plus `key` itself. */
  recursive: boolean;
  /** The key as templates see it: without the global prefix ("/" for everything under it). */
  local: string;
}

/** One file of a target: its template, where it goes, and what it is made. */
export interface TargetFile {
  /** How checkcmd names its staged path (`{{src.<name>}}`); the target file's base name unless given. */
  name: string;
  /** Absolute path of the template, or `$RECONFIG_TEMPLATE_<name>` for one from the environment. */
  source: string;
  render: Render;
  /** Absolute path of the file to write. */
  dest: string;
  mode?: number;
  uid?: number;
  gid?: number;
}

/** The health check after a reload (see agent/verify.ts). */
export interface Verify {
  cmd: string;
  withinMs: number;
  everyMs: number;
}

export interface Target {
  id: string;
  /** Where it was defined, for messages: a conf.d file path, or `$RECONFIG_TARGET_<name>`. */
  origin: string;
  /** Its files, applied as one (a target of one file has one); the first is the target's own, for messages. */
  files: readonly TargetFile[];
  /** The first file's path, for messages and logs. */
  dest: string;
  /** The target's own key as written (`key`, or the first of `keys`), for messages; undefined with no key. */
  key?: string;
  /** Every key it reads, in etcd's terms, its own first; empty for a plugin or Docker target with no key. */
  keys: readonly TargetKey[];
  /** Trusted code that gives the template `plugin` (see render/plugin.ts). */
  plugin?: Plugin;
  /** A keyless plugin target re-renders this often (ms). */
  intervalMs?: number;
  /** Docker containers as data (`containers` in the template). */
  docker?: DockerOptions;
  /** Containers to signal or restart after the file changed. */
  notify?: DockerOptions & { signal: NodeJS.Signals; restart: boolean };
  checkcmd?: string;
  reloadcmd?: string;
  /** Instead of reloadcmd: signal the process named by a pidfile. */
  reloadsignal?: { pidfile: string; signal: NodeJS.Signals };
  timeoutMs: number;
  /** Run after a reload; a failure rolls the files back. */
  verify?: Verify;
  /** Keep the last `keep` applied versions of its files in `dir` (see apply/history.ts). */
  history?: { keep: number; dir: string };
  /** Hold the target while its data has fewer keys than this. */
  minkeys?: number;
  /** Debounce window in ms: quiet for min, at most max after the first change. */
  wait?: { minMs: number; maxMs: number };
  /** After a change (and any wait), a random delay up to this many ms before the apply. */
  splayMs?: number;
  /** Waves: a later wave applies only what the wave before proved (src/rollout/). */
  rollout?: { bakeMs: number; minhosts: number };
  /** Refuses keys and values that must not reach the file: control characters, values breaking `values` rules. */
  checkValue: ValueCheck;
}


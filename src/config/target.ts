/** A target as the rest of reconfig sees it: paths resolved, the template compiled, owners looked up. */
import type { DockerOptions } from '../docker/containers';
import type { Plugin } from '../render/plugin';
import type { Render } from '../render/template';
import type { ValueCheck } from '../render/values';

export interface Target {
  id: string;
  /** Where it was defined, for messages: a conf.d file path, or `$RECONFIG_TARGET_<name>`. */
  origin: string;
  /** Absolute path of the template, or `$RECONFIG_TEMPLATE_<name>` for one from the environment. */
  source: string;
  render: Render;
  /** Absolute path of the file to write. */
  dest: string;
  /** The key as written in the target file; undefined for a plugin or Docker target with no key. */
  key?: string;
  /** The key in etcd: the global prefix followed by `key`. */
  etcdKey?: string;
  /** Trusted code that gives the template `plugin` (see render/plugin.ts). */
  plugin?: Plugin;
  /** A keyless plugin target re-renders this often (ms). */
  intervalMs?: number;
  /** Docker containers as data (`containers` in the template). */
  docker?: DockerOptions;
  /** Containers to signal or restart after the file changed. */
  notify?: DockerOptions & { signal: NodeJS.Signals; restart: boolean };
  recursive: boolean;
  checkcmd?: string;
  reloadcmd?: string;
  /** Instead of reloadcmd: signal the process named by a pidfile. */
  reloadsignal?: { pidfile: string; signal: NodeJS.Signals };
  mode?: number;
  uid?: number;
  gid?: number;
  timeoutMs: number;
  /** Hold the target while its data has fewer keys than this. */
  minkeys?: number;
  /** Debounce window in ms: quiet for min, at most max after the first change. */
  wait?: { minMs: number; maxMs: number };
  /** After a change (and any wait), a random delay up to this many ms before the apply. */
  splayMs?: number;
  /** Refuses keys and values that must not reach the file: control characters, values breaking `values` rules. */
  checkValue: ValueCheck;
}


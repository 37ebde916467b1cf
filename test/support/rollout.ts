/**
 * Hosts in waves for the rollout tests (test/e2e/rollout*.test.ts): each an agent process with target `app` on /app
 * and a `rollout`, whose reloadcmd appends a time stamp and the file's contents to a history file, so that a test
 * can tell what each wave applied, in which order and when.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Etcd3 } from 'etcd3';
import { AgentProcess } from './cli';
import type { EtcdServer } from './etcd';
import { LIST, makeCfgdir, readOr, tempDir } from './util';

export interface Host {
  name: string;
  wave: number;
  agent: AgentProcess;
  /** The host's cfgdir. */
  dir: string;
  /** With `history`: its --state-dir is `<dir>/state`. */
  dest: string;
  history: string;
  args: string[];
}

/** One applied file: when its reload ran (ms), and its lines. */
export interface Applied {
  ms: number;
  lines: string[];
}

export interface HostReport {
  wave?: number;
  targets: Record<string, { state: string; revision: number; message?: string }>;
}

export interface HostOptions {
  /** A verify that fails while the file holds "bad". */
  picky?: boolean;
  bake?: string;
  minhosts?: number;
  /** The target's `wait` (min and max). */
  wait?: string;
  /** More flags for the agent (e.g. -d). */
  extra?: string[];
  /** false: the target has no `rollout` field (a SIGHUP may add it later: rewrite). */
  rollout?: boolean;
  /** Keep this many versions (`history`): the host's agent then needs --state-dir (see `state`). */
  history?: number;
}

/** The helpers, bound to the test file's etcd. */
export function rolloutHosts(shared: { readonly etcd: EtcdServer; readonly client: Etcd3 }) {
  const port = (): string => String(shared.etcd.clientPort);

  /** One host in `wave`: target `app` on /app with a rollout (bake 2 s by default). */
  function startHost(p: string, name: string, wave: number, opts: HostOptions = {}): Host {
    const dir = tempDir('reconfig-wave-');
    const dest = path.join(dir, 'out', 'app');
    const history = path.join(dir, 'history');
    makeCfgdir({ app: appTarget(dir, opts) }, { 'list.ejs': LIST }, dir);
    const state = opts.history ? ['--state-dir', path.join(dir, 'state')] : [];
    if (opts.history) mkdirSync(path.join(dir, 'state'), { mode: 0o700 });
    const args = ['-c', dir, '--port', port(), '-p', p, '--report', `${p}-fleet`, '--report-name', name, '--wave', String(wave), ...state, ...(opts.extra ?? [])];
    return { name, wave, agent: AgentProcess.start(args), dir, dest, history, args };
  }

  /** conf.d/app.json of a host whose cfgdir is `dir`. */
  function appTarget(dir: string, opts: HostOptions): Record<string, unknown> {
    const dest = path.join(dir, 'out', 'app');
    const history = path.join(dir, 'history');
    return {
      id: 'app',
      source: 'list.ejs',
      target: 'out/app',
      key: '/app',
      recursive: true,
      reloadcmd: `date +%s%3N >> '${history}'; cat '${dest}' >> '${history}'`,
      ...(opts.rollout === false ? {} : { rollout: { bake: opts.bake ?? '2s', minhosts: opts.minhosts ?? 1 } }),
      ...(opts.wait ? { wait: { min: opts.wait, max: opts.wait } } : {}),
      ...(opts.history ? { history: opts.history } : {}),
      ...(opts.picky ? { verify: { cmd: `! grep -q bad '${dest}'`, within: '1s', every: '200ms' } } : {}),
    };
  }

  /** Rewrites the host's target with `opts` (e.g. with or without its rollout); a SIGHUP makes the agent load it. */
  function rewrite(h: Host, opts: HostOptions): void {
    writeFileSync(path.join(h.dir, 'conf.d', 'app.json'), JSON.stringify(appTarget(h.dir, opts), null, 2));
  }

  /** What the host reloaded, in order. */
  function applied(h: Host): Applied[] {
    const out: Applied[] = [];
    for (const line of readOr(h.history).split('\n').filter(Boolean)) {
      if (/^\d+$/.test(line)) out.push({ ms: Number(line), lines: [] });
      else out[out.length - 1]?.lines.push(line);
    }
    return out;
  }

  /** The first apply whose file holds `line`. */
  function firstWith(h: Host, line: string): Applied | undefined {
    return applied(h).find((a) => a.lines.includes(line));
  }

  async function put(key: string, value: string): Promise<number> {
    return Number((await shared.client.put(key).value(value)).header.revision);
  }

  async function report(p: string, name: string): Promise<HostReport | undefined> {
    const v = await shared.client.get(`${p}-fleet/${name}`).string();
    return v === null ? undefined : (JSON.parse(v) as HostReport);
  }

  async function stopAll(hosts: Host[]): Promise<void> {
    await Promise.all(hosts.map((h) => h.agent.stop()));
  }

  return { port, startHost, rewrite, applied, firstWith, put, report, stopAll };
}

/**
 * Bench scenarios of what reconfig costs on a host: how fast the CLI starts (`--version`, `validate`) beside
 * Node's own start (`node -e ""`) in the same run, and the memory of an idle agent with one target.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Etcd3 } from 'etcd3';
import type { EtcdServer } from '../../scripts/etcd-server';
import { Agent, CLI, agentEnv, median, now, round, sleep, whenFile, workDir, writeCfg } from './harness';

const ROOT = path.resolve(__dirname, '..', '..', '..');

function wallMs(args: string[], runs: number): number {
  const walls: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = now();
    const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: agentEnv });
    walls.push(now() - t0);
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr.toString().slice(-2000)}`);
  }
  return round(median(walls), 1);
}

/** Wall times of starting: Node alone, `reconfig --version`, and `reconfig validate` of the repository's examples. */
export function startup(runs: number): Record<string, number> {
  const dir = workDir('startup');
  cpSync(path.join(ROOT, 'conf.d'), path.join(dir, 'conf.d'), { recursive: true });
  cpSync(path.join(ROOT, 'templates'), path.join(dir, 'templates'), { recursive: true });
  // Interleaved, so that a noisy moment on a shared machine falls on all three alike.
  const node: number[] = [];
  const version: number[] = [];
  const validate: number[] = [];
  for (let i = 0; i < runs; i++) {
    node.push(wallMs(['-e', ''], 1));
    version.push(wallMs([CLI, '--version'], 1));
    validate.push(wallMs([CLI, 'validate', '-c', dir], 1));
  }
  rmSync(dir, { recursive: true, force: true });
  return { node_ms: round(median(node), 1), version_ms: round(median(version), 1), validate_ms: round(median(validate), 1), runs };
}

/** How many agents the idle figures are the median of: one sample swings by 5 MB (see IdleMemory). */
export const IDLE_RUNS = 3;

/**
 * An idle agent's memory: VmRSS (the figure), and its two parts from /proc/<pid>/status: RssAnon (the V8
 * heap, malloc, stacks) and RssFile (the pages of Node's binary and its libraries that the process has
 * touched). One sample is not enough: whether V8 optimized something during start-up moves RssFile by about
 * 5 MB, and whether V8's memory reducer has run yet moves RssAnon by as much (docs/performance.md).
 */
export interface IdleMemory {
  rss: number;
  anon: number;
  file: number;
}

/** VmRSS, RssAnon and RssFile of `pid`, in MB. */
export function memoryOf(pid: number): IdleMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(m[1]);
  };
  return { rss: round(kb('VmRSS') / 1024, 1), anon: round(kb('RssAnon') / 1024, 1), file: round(kb('RssFile') / 1024, 1) };
}

/** The run with the median VmRSS, so that its parts add up to the figure shown. */
export function medianRun(runs: IdleMemory[]): IdleMemory {
  return [...runs].sort((a, b) => a.rss - b.rss)[Math.floor((runs.length - 1) / 2)];
}

/** One watching agent with one target (`program`: how it is started), measured 10 s after its first apply. */
export async function idleAgent(etcd: EtcdServer, client: Etcd3, name: string, program?: string[]): Promise<IdleMemory> {
  const dir = workDir(name);
  const dest = path.join(dir, 'out', 'idle.conf');
  const key = `/${name}`;
  writeCfg(dir, [{ id: 'idle', source: 'i.ejs', target: dest, key, recursive: true }], {
    'i.ejs': '<% for (const [k, v] of Object.entries(reconfigdata)) { %><%= k %> <%= v %>\n<% } %>',
  });
  await client.put(`${key}/web1`).value('10.0.0.1:80');
  const agent = new Agent(['-c', dir, '--port', String(etcd.clientPort)], program);
  try {
    await agent.waitLog('first full apply done');
    await whenFile(dest, (c) => c.includes(`${key}/web1`));
    await sleep(10_000);
    return memoryOf(agent.pid);
  } finally {
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** RSS of a watching agent with one target, 10 s after its first apply (its steady state): the median of IDLE_RUNS. */
export async function idle(etcd: EtcdServer, client: Etcd3): Promise<Record<string, number>> {
  const runs: IdleMemory[] = [];
  for (let i = 0; i < IDLE_RUNS; i++) runs.push(await idleAgent(etcd, client, 'idle'));
  const m = medianRun(runs);
  return { rss_mb: m.rss, rss_anon_mb: m.anon, rss_file_mb: m.file, rss_min_mb: Math.min(...runs.map((r) => r.rss)), rss_max_mb: Math.max(...runs.map((r) => r.rss)), runs: IDLE_RUNS };
}

/**
 * Bench scenarios of what reconfig costs on a host: how fast the CLI starts (`--version`, `validate`) beside
 * Node's own start (`node -e ""`) in the same run, and the memory of an idle agent with one target.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Etcd3 } from 'etcd3';
import type { EtcdServer } from '../../scripts/etcd-server';
import { Agent, CLI, agentEnv, median, now, round, rssMb, sleep, whenFile, workDir, writeCfg } from './harness';

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

/** RSS of a watching agent with one target, 10 s after its first apply (its steady state). */
export async function idle(etcd: EtcdServer, client: Etcd3): Promise<Record<string, number>> {
  const dir = workDir('idle');
  const dest = path.join(dir, 'out', 'idle.conf');
  writeCfg(dir, [{ id: 'idle', source: 'i.ejs', target: dest, key: '/idle', recursive: true }], {
    'i.ejs': '<% for (const [k, v] of Object.entries(reconfigdata)) { %><%= k %> <%= v %>\n<% } %>',
  });
  await client.put('/idle/web1').value('10.0.0.1:80');
  const agent = new Agent(['-c', dir, '--port', String(etcd.clientPort)]);
  await agent.waitLog('first full apply done');
  await whenFile(dest, (c) => c.includes('/idle/web1'));
  await sleep(10_000);
  const rss = rssMb(agent.pid);
  await agent.stop();
  rmSync(dir, { recursive: true, force: true });
  return { rss_mb: rss };
}

/** Bench scenarios of scale: 1,000 targets, 100,000 keys, and --onetime over 100 targets. */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Etcd3 } from 'etcd3';
import type { EtcdServer } from '../../scripts/etcd-server';
import { Agent, CLI, agentEnv, median, now, putMany, round, rssMb, sleep, whenFile, workDir, writeCfg } from './harness';

export async function targets(etcd: EtcdServer, client: Etcd3, count: number): Promise<Record<string, number>> {
  const dir = workDir('targets');
  const ts = Array.from({ length: count }, (_, i) => {
    const id = `t${String(i).padStart(4, '0')}`;
    return { id, source: 't.ejs', target: path.join(dir, 'out', `${id}.conf`), key: `/targets/${id}` };
  });
  writeCfg(dir, ts, { 't.ejs': '<% for (const v of Object.values(reconfigdata)) { %><%= v %>\n<% } %>' });
  await putMany(client, ts.map((t) => [t.key, `${t.id}-v0`]));
  const t0 = now();
  const agent = new Agent(['-c', dir, '--port', String(etcd.clientPort)]);
  const out = path.join(dir, 'out');
  for (;;) {
    if (readdirSync(out).filter((f) => f.endsWith('.conf')).length === count) break;
    if (agent.proc.exitCode !== null) throw new Error(agent.stderr);
    await sleep(5);
  }
  const startup = now() - t0;
  await agent.waitLog('first full apply done');
  const streams = await etcd.metric('etcd_debugging_mvcc_watch_stream_total');
  const changes: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = ts[(i * 37) % count];
    const seen = whenFile(t.target, (c) => c === `${t.id}-v${i + 1}\n`);
    const start = now();
    await client.put(t.key).value(`${t.id}-v${i + 1}`);
    changes.push((await seen) - start);
  }
  const rss = rssMb(agent.pid);
  await agent.stop();
  rmSync(dir, { recursive: true, force: true });
  return { count, startup_ms: round(startup), rss_mb: rss, watch_streams: streams, change_ms: round(median(changes)) };
}

export async function keys(etcd: EtcdServer, client: Etcd3, count: number): Promise<Record<string, number>> {
  const dir = workDir('keys');
  const dest = path.join(dir, 'out', 'keys.conf');
  const tpl = '<% for (const [k, v] of Object.entries(reconfigdata)) { %><%= k %> <%= v %>\n<% } %>';
  writeCfg(dir, [{ id: 'keys', source: 'k.ejs', target: dest, key: '/keys', recursive: true }], { 'k.ejs': tpl });
  await putMany(client, Array.from({ length: count }, (_, i) => [`/keys/k${String(i).padStart(6, '0')}`, `10.0.${i >> 8 & 255}.${i & 255}:80`]));
  const last = `/keys/k${String(count - 1).padStart(6, '0')}`;
  const t0 = now();
  const agent = new Agent(['-c', dir, '--port', String(etcd.clientPort)]);
  const tInit = await whenFile(dest, (c) => c.endsWith(`${last} 10.0.${(count - 1) >> 8 & 255}.${(count - 1) & 255}:80\n`), 120_000);
  const rerender: number[] = [];
  for (let i = 0; i < 5; i++) {
    const seen = whenFile(dest, (c) => c.endsWith(`${last} changed-${i}\n`), 60_000);
    const start = now();
    await client.put(last).value(`changed-${i}`);
    rerender.push((await seen) - start);
  }
  const rss = rssMb(agent.pid);
  await agent.stop();
  await client.delete().prefix('/keys/');
  rmSync(dir, { recursive: true, force: true });
  return { count, initial_ms: round(tInit - t0), rerender_ms: round(median(rerender)), rss_mb: rss };
}

export async function onetime(etcd: EtcdServer, client: Etcd3, runs: number): Promise<Record<string, number>> {
  const dir = workDir('onetime');
  const ts = Array.from({ length: 100 }, (_, i) => {
    const id = `o${String(i).padStart(3, '0')}`;
    return { id, source: 'o.ejs', target: path.join(dir, 'out', `${id}.conf`), key: `/onetime/${id}`, recursive: true };
  });
  writeCfg(dir, ts, { 'o.ejs': '<% for (const c of Object.entries(reconfigdata)) { %><%= c[0] %>=<%= c[1] %>\n<% } %>' });
  const kvs: Array<[string, string]> = [];
  for (const t of ts) for (let k = 0; k < 10; k++) kvs.push([`${t.key}/k${k}`, `value-${k}`]);
  await putMany(client, kvs);
  const args = [CLI, '-c', dir, '--port', String(etcd.clientPort), '--onetime'];
  const walls: number[] = [];
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 1) rmSync(path.join(dir, 'out'), { recursive: true, force: true }); // alternate: write all / unchanged
    const t0 = now();
    const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: agentEnv });
    walls.push(now() - t0);
    if (r.status !== 0) throw new Error(`onetime exited ${r.status}: ${r.stderr.toString().slice(-2000)}`);
  }
  // Peak RSS from a separate run with a preload that reports the process's own maximum on exit.
  const hook = path.join(dir, 'maxrss.js');
  const report = path.join(dir, 'maxrss.txt');
  writeFileSync(hook, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(report)}, String(process.resourceUsage().maxRSS)));`);
  rmSync(path.join(dir, 'out'), { recursive: true, force: true });
  spawnSync(process.execPath, ['--require', hook, ...args], { stdio: 'ignore', env: agentEnv });
  const peak = Number(readFileSync(report, 'utf8')) / 1024;
  rmSync(dir, { recursive: true, force: true });
  return { targets: ts.length, wall_ms: round(median(walls)), peak_rss_mb: round(peak, 1) };
}

/** Bench scenarios of the watch path: one change end to end (latency), and a burst of 5,000 puts (burst). */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Etcd3 } from 'etcd3';
import type { EtcdServer } from '../../scripts/etcd-server';
import { Agent, agentEnv, cpuSeconds, median, now, percentile, round, sleep, whenFile, workDir, workRoot, writeCfg } from './harness';

export async function latency(etcd: EtcdServer, client: Etcd3, n: number, root = workRoot): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(root, 'reconfig-bench-latency-'));
  const dest = path.join(dir, 'out', 'lat.conf');
  writeCfg(dir, [{ id: 'lat', source: 'lat.ejs', target: dest, key: '/lat/k' }], { 'lat.ejs': '<%= get("/lat/k", "none") %>\n' });
  await client.put('/lat/k').value('start');
  const agent = new Agent(['-c', dir, '--port', String(etcd.clientPort)]);
  await agent.waitLog('first full apply done');
  await whenFile(dest, (c) => c === 'start\n');
  const floorClient = etcd.client();
  const watcher = await floorClient.watch().key('/lat/k').create();
  let floorWaiter: ((v: string) => void) | null = null;
  watcher.on('put', (kv) => floorWaiter?.(kv.value.toString()));
  const reconfig: number[] = [];
  const floor: number[] = [];
  const confd = await startConfd(etcd, dir);
  const confdMs: number[] = [];
  for (let i = 0; i < n; i++) {
    if (confd) {
      // The same put -> file, for confd watching its own key, in the same run: one each, in turn.
      const value = `c${i}`;
      const seen = whenFile(confd.dest, (c) => c === `${value}\n`);
      const t0 = now();
      await client.put('/latc/k').value(value);
      await seen;
      confdMs.push(now() - t0);
      await sleep(5);
    }
    const value = `v${i}`;
    const floorSeen = new Promise<number>((resolve) => {
      floorWaiter = (v) => {
        if (v === value) resolve(now());
      };
    });
    const fileSeen = whenFile(dest, (c) => c === `${value}\n`);
    const t0 = now();
    await client.put('/lat/k').value(value);
    const [tf, tr] = await Promise.all([floorSeen, fileSeen]);
    floor.push(tf - t0);
    reconfig.push(tr - t0);
    await sleep(5);
  }
  await watcher.cancel();
  floorClient.close();
  await agent.stop();
  confd?.stop();
  rmSync(dir, { recursive: true, force: true });
  return {
    ...(confd ? { confd_p50_ms: round(median(confdMs)), confd_p99_ms: round(percentile(confdMs, 99)) } : {}),
    p50_ms: round(median(reconfig)),
    p90_ms: round(percentile(reconfig, 90)),
    p99_ms: round(percentile(reconfig, 99)),
    floor_p50_ms: round(median(floor)),
    floor_p99_ms: round(percentile(floor, 99)),
    n,
  };
}

/** confd (CONFD_BIN) watching /latc/k into its own file, with the same template; null without CONFD_BIN. */
async function startConfd(etcd: EtcdServer, dir: string): Promise<{ dest: string; stop: () => void } | null> {
  const bin = process.env.CONFD_BIN;
  if (!bin) return null;
  const confdir = path.join(dir, 'confd');
  const dest = path.join(dir, 'out', 'confd.conf');
  mkdirSync(path.join(confdir, 'conf.d'), { recursive: true });
  mkdirSync(path.join(confdir, 'templates'), { recursive: true });
  writeFileSync(path.join(confdir, 'templates', 'lat.tmpl'), '{{getv "/latc/k" "none"}}\n');
  writeFileSync(path.join(confdir, 'conf.d', 'lat.toml'), `[template]\nsrc = "lat.tmpl"\ndest = "${dest}"\nkeys = ["/latc/k"]\n`);
  const child = spawn(bin, ['-confdir', confdir, '-backend', 'etcdv3', '-node', `http://127.0.0.1:${etcd.clientPort}`, '-watch', '-log-level', 'error'], { stdio: 'ignore' });
  const c = etcd.client();
  await c.put('/latc/k').value('start');
  c.close();
  await whenFile(dest, (t) => t === 'start\n');
  return { dest, stop: () => void child.kill('SIGTERM') };
}

export async function burst(etcd: EtcdServer, client: Etcd3): Promise<Record<string, number>> {
  const dir = workDir('burst');
  const dest = path.join(dir, 'out', 'burst.conf');
  const tpl = '<% for (const [k, v] of Object.entries(reconfigdata)) { %><%= k %> <%= v %>\n<% } %>';
  writeCfg(dir, [{ id: 'burst', source: 'b.ejs', target: dest, key: '/burst', recursive: true }], { 'b.ejs': tpl });
  const agent = new Agent(['-c', dir, '--port', String(etcd.clientPort)]);
  await agent.waitLog('first full apply done');
  await whenFile(dest, () => existsSync(dest));
  const floor = spawn(process.execPath, [path.join(__dirname, 'bare-watcher.js'), etcd.url, '/burst/', '5000'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: agentEnv,
  });
  let floorOut = '';
  floor.stdout.on('data', (c: Buffer) => (floorOut += c.toString()));
  const floorDone = new Promise((r) => floor.on('exit', r));
  while (!floorOut.includes('ready')) await sleep(5);
  const appliesBefore = agent.count('applied');
  const cpuBefore = cpuSeconds(agent.pid);
  const puts = 5000;
  const final = new Map<string, string>();
  const inflight: Array<Promise<unknown>> = [];
  for (let i = 0; i < puts; i++) {
    const k = `/burst/k${String(i % 200).padStart(3, '0')}`;
    final.set(k, `v${i}`);
    inflight.push(client.put(k).value(`v${i}`).exec());
    if (inflight.length >= 64) await Promise.all(inflight.splice(0));
  }
  await Promise.all(inflight);
  const tLast = now();
  const expected = [...final.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k} ${v}\n`).join('');
  const tDone = await whenFile(dest, (c) => c === expected);
  await sleep(300);
  const cpu = cpuSeconds(agent.pid) - cpuBefore;
  const applies = agent.count('applied') - appliesBefore;
  await agent.stop();
  await floorDone;
  rmSync(dir, { recursive: true, force: true });
  const floorCpu = Number(floorOut.split('\n')[1]);
  return { converge_ms: round(Math.max(0, tDone - tLast)), cpu_s: round(cpu), floor_cpu_s: round(floorCpu), applies, puts };
}

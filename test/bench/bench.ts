/**
 * `npm run bench [-- --quick] [--runs N] [--only keys,latency]`: reconfig's latency, CPU and memory against a real etcd, with the built CLI as a
 * separate process, beside a floor measured in the same run (a bare etcd3 watcher in this process). Prints a
 * table and writes test/bench/results/latest.json.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Etcd3 } from 'etcd3';
import { etcdBinary } from '../../scripts/etcd-binary';
import { EtcdServer } from '../../scripts/etcd-server';
import {
  Agent,
  CLI,
  agentEnv,
  agents,
  cpuSeconds,
  median,
  now,
  percentile,
  putMany,
  round,
  rssMb,
  sleep,
  whenFile,
  workDir,
  workRoot,
  writeCfg,
} from './harness';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RESULTS = path.join(ROOT, 'test', 'bench', 'results');
const quick = process.argv.includes('--quick');

async function latency(etcd: EtcdServer, client: Etcd3, n: number, root = workRoot): Promise<Record<string, number>> {
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
  for (let i = 0; i < n; i++) {
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
  rmSync(dir, { recursive: true, force: true });
  return {
    p50_ms: round(median(reconfig)),
    p90_ms: round(percentile(reconfig, 90)),
    p99_ms: round(percentile(reconfig, 99)),
    floor_p50_ms: round(median(floor)),
    floor_p99_ms: round(percentile(floor, 99)),
    n,
  };
}

async function burst(etcd: EtcdServer, client: Etcd3): Promise<Record<string, number>> {
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

async function targets(etcd: EtcdServer, client: Etcd3, count: number): Promise<Record<string, number>> {
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

async function keys(etcd: EtcdServer, client: Etcd3, count: number): Promise<Record<string, number>> {
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

async function onetime(etcd: EtcdServer, client: Etcd3, runs: number): Promise<Record<string, number>> {
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

// ---------------------------------------------------------------------------------------------------------

const TARGETS: Array<[string, string, (s: Record<string, Record<string, number>>) => number, string, (v: number, s: Record<string, Record<string, number>>) => boolean]> = [
  ['latency', 'p50 (ms)', (s) => s.latency.p50_ms, '<= 1.3x floor', (v, s) => v <= 1.3 * s.latency.floor_p50_ms],
  ['latency', 'floor p50 (ms)', (s) => s.latency.floor_p50_ms, '', () => true],
  ['latency', 'p50 with target files on tmpfs (ms)', (s) => s.latency.tmpfs_p50_ms ?? NaN, '', () => true],
  ['latency', 'floor p50 in that run (ms)', (s) => s.latency.tmpfs_floor_p50_ms ?? NaN, '', () => true],
  ['latency', 'p99 (ms)', (s) => s.latency.p99_ms, '<= 20', (v) => v <= 20],
  ['burst', 'last put to exact file (ms)', (s) => s.burst.converge_ms, '<= 100', (v) => v <= 100],
  ['burst', 'agent CPU (s)', (s) => s.burst.cpu_s, '<= 0.3', (v) => v <= 0.3],
  ['burst', 'floor: bare etcd3 watcher CPU (s)', (s) => s.burst.floor_cpu_s, '', () => true],
  ['burst', 'applies for 5,000 puts', (s) => s.burst.applies, '', () => true],
  ['targets', 'watch streams', (s) => s.targets.watch_streams, '1', (v) => v === 1],
  ['targets', 'start to all rendered (ms)', (s) => s.targets.startup_ms, '<= 2000', (v) => v <= 2000],
  ['targets', 'RSS (MB)', (s) => s.targets.rss_mb, '<= 120', (v) => v <= 120],
  ['targets', 'one change among 1,000 (ms)', (s) => s.targets.change_ms, '', () => true],
  ['keys', 'initial render (ms)', (s) => s.keys.initial_ms, '', () => true],
  ['keys', 're-render after one change (ms)', (s) => s.keys.rerender_ms, '<= 300', (v) => v <= 300],
  ['keys', 'RSS (MB)', (s) => s.keys.rss_mb, '<= 300', (v) => v <= 300],
  ['onetime', 'wall time (ms)', (s) => s.onetime.wall_ms, '<= 400', (v) => v <= 400],
  ['onetime', 'peak RSS (MB)', (s) => s.onetime.peak_rss_mb, '<= 80', (v) => v <= 80],
];

function fsType(dir: string): string {
  const r = spawnSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' });
  return r.stdout.trim() || 'unknown';
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error('run `npm run build` first');
  const started = Date.now();
  const etcd = await EtcdServer.start(['--quota-backend-bytes', String(4 * 1024 ** 3)]);
  const client = etcd.client();
  const runsArg = process.argv.includes('--runs') ? Number(process.argv[process.argv.indexOf('--runs') + 1]) : 1;
  const runs: Array<Record<string, Record<string, number>>> = [];
  try {
    for (let run = 0; run < runsArg; run++) {
      const scenarios: Record<string, Record<string, number>> = {};
      runs.push(scenarios);
      const step = async (name: string, fn: () => Promise<Record<string, number>>): Promise<void> => {
        process.stderr.write(`bench: run ${run + 1}/${runsArg}: ${name}...\n`);
        scenarios[name] = await fn();
      };
      const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1].split(',') : null;
      const want = (name: string): boolean => only === null || only.includes(name);
      // onetime first: the later scenarios leave etcd busy compacting and freeing what they wrote.
      if (want('onetime')) await step('onetime', () => onetime(etcd, client, quick ? 5 : 15));
      if (want('latency')) {
        await step('latency', () => latency(etcd, client, quick ? 100 : 500));
        // The same on tmpfs, where fsync costs nothing: the difference is the price of a durable write.
        if (existsSync('/dev/shm') && fsType('/dev/shm') === 'tmpfs') {
          const shm = await latency(etcd, client, quick ? 100 : 500, '/dev/shm');
          scenarios.latency.tmpfs_p50_ms = shm.p50_ms!;
          scenarios.latency.tmpfs_floor_p50_ms = shm.floor_p50_ms!;
        }
      }
      if (want('burst')) await step('burst', () => burst(etcd, client));
      if (want('targets')) await step('targets', () => targets(etcd, client, 1000));
      if (want('keys')) await step('keys', () => keys(etcd, client, 100_000));
    }
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    client.close();
    await etcd.stop();
  }
  // With --runs N, every figure is the median over the runs.
  const scenarios: Record<string, Record<string, number>> = {};
  for (const [name, first] of Object.entries(runs[0])) {
    scenarios[name] = {};
    for (const key of Object.keys(first)) scenarios[name][key] = median(runs.map((r) => r[name][key]));
  }
  const machine = {
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model ?? 'unknown',
    mem_gb: round(os.totalmem() / 1024 ** 3, 1),
    node: process.version,
    etcd: (spawnSync(etcdBinary(), ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '').replace('etcd Version: ', ''),
    target_fs: fsType(workRoot),
    quick,
    date: new Date().toISOString(),
    duration_s: round((Date.now() - started) / 1000, 1),
    runs: runsArg,
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(path.join(RESULTS, 'latest.json'), `${JSON.stringify({ machine, scenarios }, null, 2)}\n`);
  const rows = TARGETS.filter(([sc]) => scenarios[sc]).map(([sc, fig, get, target, ok]) => {
    const v = get(scenarios);
    return `| ${sc} | ${fig} | ${v} | ${target} | ${target ? (ok(v, scenarios) ? 'ok' : 'MISSED') : ''} |`;
  });
  console.log(`\n${machine.cpus} x ${machine.cpu_model}, ${machine.mem_gb} GB, Node ${machine.node}, etcd ${machine.etcd}, target files on ${machine.target_fs}${quick ? ', --quick' : ''}, median of ${runsArg} run(s)\n`);
  console.log(['| scenario | figure | measured | target | |', '|---|---|---|---|---|', ...rows].join('\n'));
  console.log(`\nwritten to ${path.relative(ROOT, path.join(RESULTS, 'latest.json'))} in ${machine.duration_s} s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

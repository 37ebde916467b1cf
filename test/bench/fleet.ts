/**
 * `npm run fleet [-- --agents N]` (default 100): N agents as separate processes on this machine, each with its
 * own cfgdir, against a three-member cluster, first directly and then through one `etcd grpc-proxy`. Measures
 * what etcd sees (watch streams and watchers), a put to a one-key target reaching all N files (the slowest,
 * p50 and p99 over 50 puts), the bytes etcd sends the agents while they recover from a member killed under them
 * (and how many re-read their keys rather than resume their watch), the spread of
 * apply times for one change with `splay` 2 s, the agents' total memory, and how long
 * `reconfig fleet --wait-revision` takes to confirm a change. Writes test/bench/results/fleet.json.
 * With `--rollout`, the rollout scenario instead (rollout.ts): agents in three waves, a good and a bad change.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { etcdBinary } from '../../scripts/etcd-binary';
import { EtcdCluster, freePort } from '../../scripts/etcd-server';
import { Agent, CLI, agentEnv, agents, median, now, percentile, putMany, round, rssMb, sleep, workDir, writeCfg } from './harness';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const arg = (name: string, dflt: number): number => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);
const N = arg('--agents', 100);
const PUTS = arg('--puts', 50);
const SEED_KEYS = 1000;
const TPL = '<% for (const [k, v] of Object.entries(reconfigdata)) { %><%= k %> <%= v %>\n<% } %>';

interface Host {
  agent: Agent;
  lat: string;
  fast: string;
  slow: string;
}

/** Three targets: `lat` (one key, for latency), `fast` (1,060 keys, for the re-read), `slow` (splay 2 s). */
function cfgFor(root: string, i: number): { dir: string; lat: string; fast: string; slow: string } {
  const dir = path.join(root, `a${i}`);
  const lat = path.join(dir, 'out', 'lat.conf');
  const fast = path.join(dir, 'out', 'fast.conf');
  const slow = path.join(dir, 'out', 'slow.conf');
  writeCfg(
    dir,
    [
      { id: 'lat', source: 't.ejs', target: lat, key: '/fleet/lat' },
      { id: 'fast', source: 't.ejs', target: fast, key: '/fleet/fast', recursive: true },
      { id: 'slow', source: 't.ejs', target: slow, key: '/fleet/slow', recursive: true, splay: '2s' },
    ],
    { 't.ejs': TPL },
  );
  return { dir, lat, fast, slow };
}

async function startHosts(root: string, endpoints: string): Promise<Host[]> {
  const hosts: Host[] = [];
  for (let i = 0; i < N; i++) {
    const { dir, lat, fast, slow } = cfgFor(root, i);
    hosts.push({ agent: new Agent(['-c', dir, '--endpoints', endpoints, '--report', '/reconfig-fleet', '--report-name', `a${i}`]), lat, fast, slow });
  }
  await Promise.all(hosts.map((h) => h.agent.waitLog('first full apply done', 300_000)));
  return hosts;
}

const read = (file: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};

/** Waits until every file holds `needle`; the time each first did. */
async function allHold(files: string[], needle: string, timeoutMs = 60_000): Promise<number[]> {
  const seen = new Array<number>(files.length).fill(0);
  const deadline = now() + timeoutMs;
  let left = files.length;
  while (left > 0) {
    if (now() > deadline) throw new Error(`${left} file(s) never held ${needle}`);
    for (let i = 0; i < files.length; i++) {
      if (seen[i] === 0 && read(files[i]).includes(needle)) {
        seen[i] = now();
        left -= 1;
      }
    }
    await sleep(1);
  }
  return seen;
}

async function watchCost(cluster: EtcdCluster): Promise<{ streams: number; watchers: number }> {
  let streams = 0;
  let watchers = 0;
  for (const m of cluster.members) {
    streams += await m.metric('etcd_debugging_mvcc_watch_stream_total');
    watchers += await m.metric('etcd_debugging_mvcc_watcher_total');
  }
  return { streams, watchers };
}

/** Bytes each member has sent its gRPC clients (a restarted member counts from zero again). */
async function sentBytes(cluster: EtcdCluster): Promise<number[]> {
  const out: number[] = [];
  for (const m of cluster.members) out.push(m.running ? await m.metric('etcd_network_client_grpc_sent_bytes_total') : 0);
  return out;
}

async function putLatency(client: ReturnType<EtcdCluster['members'][number]['client']>, files: string[]): Promise<{ p50: number; p99: number }> {
  const slowest: number[] = [];
  for (let i = 0; i < PUTS; i++) {
    const value = `lat-${Date.now()}-${i}`;
    const t0 = now();
    await client.put('/fleet/lat').value(value);
    const seen = await allHold(files, value);
    slowest.push(Math.max(...seen) - t0);
  }
  return { p50: round(median(slowest)), p99: round(percentile(slowest, 99)) };
}

async function main(): Promise<void> {
  const root = workDir('fleet');
  const cluster = await EtcdCluster.start(3);
  const client = cluster.members[2].client();
  const proxyPort = await freePort();
  const proxy = spawn(etcdBinary(), ['grpc-proxy', 'start', `--endpoints=${cluster.urls.join(',')}`, `--listen-addr=127.0.0.1:${proxyPort}`], { stdio: 'ignore' });
  const results: Record<string, Record<string, number>> = {};
  try {
    await putMany(client, Array.from({ length: SEED_KEYS }, (_, i) => [`/fleet/fast/seed/k${String(i).padStart(4, '0')}`, `10.0.${i >> 8}.${i & 255}:80`]));
    await client.put('/fleet/slow/k').value('s0');
    await client.put('/fleet/lat').value('l0');
    for (const [mode, endpoints] of [['direct', cluster.urls.join(',')], ['proxy', `http://127.0.0.1:${proxyPort}`]] as const) {
      process.stderr.write(`fleet: ${mode}: starting ${N} agents...\n`);
      const base = await watchCost(cluster);
      const t0 = now();
      const hosts = await startHosts(path.join(root, mode), endpoints);
      const startS = (now() - t0) / 1000;
      await sleep(2000);
      const cost = await watchCost(cluster);
      const rss = hosts.reduce((sum, h) => sum + rssMb(h.agent.pid), 0);
      process.stderr.write(`fleet: ${mode}: ${PUTS} puts...\n`);
      const lat = await putLatency(client, hosts.map((h) => h.lat));
      // splay 2 s: one change, and when each host applied it.
      const s0 = now();
      await client.put('/fleet/slow/k').value(`splay-${mode}`);
      const applied = await allHold(hosts.map((h) => h.slow), `splay-${mode}`, 30_000);
      const spread = (Math.max(...applied) - Math.min(...applied)) / 1000;
      // reconfig fleet --wait-revision: from the put to its exit 0.
      const rev = Number((await client.put('/fleet/fast/deploy').value(`d-${mode}`)).header.revision);
      const w0 = now();
      const wait = await new Promise<number | null>((resolve) => {
        const p = spawn(process.execPath, [CLI, 'fleet', '--endpoints', cluster.urls[2], '--report', '/reconfig-fleet', '--wait-revision', String(rev), '--target', 'fast', '--timeout', '60s'], { stdio: 'ignore', env: agentEnv });
        p.on('exit', resolve);
      });
      const waitMs = now() - w0;
      // A member killed under the agents (directly: the one they use), 5 keys changed meanwhile; the bytes
      // etcd sends them until every agent has caught up, against those 5 keys' size.
      const before = await sentBytes(cluster);
      // Every fresh snapshot after the first logs "resynced at revision R"; a resumed watch logs "resumed".
      const rereads = (): number => hosts.reduce((n, h) => n + h.agent.countSome('resynced at revision'), 0);
      const resumes = (): number => hosts.reduce((n, h) => n + h.agent.countSome('resumed the watch from revision'), 0);
      const [rereadsBefore, resumesBefore] = [rereads(), resumes()];
      const victim = cluster.members[0];
      await victim.kill9();
      for (let i = 0; i < 5; i++) await client.put(`/fleet/fast/during/k${i}`).value(`v${i}`);
      await victim.restart();
      await allHold(hosts.map((h) => h.fast), '/fleet/fast/during/k4 v4', 120_000);
      await sleep(1000);
      const after = await sentBytes(cluster);
      // The killed member's counter began again at its restart: all it sent since counts.
      const sent = after.reduce((sum, b, i) => sum + (cluster.members[i] === victim ? b : b - before[i]), 0);
      results[mode] = {
        agents: N,
        start_s: round(startS, 1),
        watch_streams: cost.streams - base.streams,
        watchers: cost.watchers - base.watchers,
        rss_total_mb: round(rss, 0),
        put_to_all_p50_ms: lat.p50,
        put_to_all_p99_ms: lat.p99,
        splay_spread_s: round(spread, 2),
        splay_first_s: round((Math.min(...applied) - s0) / 1000, 2),
        fleet_wait_exit: wait ?? -1,
        fleet_wait_ms: round(waitMs, 0),
        restart_bytes_sent: sent,
        restart_rereads: rereads() - rereadsBefore,
        restart_keys_read: (rereads() - rereadsBefore) * (SEED_KEYS + 60 + 2),
        restart_resumes: resumes() - resumesBefore,
        changed_keys: 5,
        keys_per_agent: SEED_KEYS + 60 + 2,
      };
      await Promise.all(hosts.map((h) => h.agent.stop()));
      agents.length = 0;
    }
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    proxy.kill('SIGTERM');
    client.close();
    await cluster.stop();
  }
  const out = path.join(ROOT, 'test', 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'fleet.json'), `${JSON.stringify({ date: new Date().toISOString(), results }, null, 2)}\n`);
  const keys = Object.keys(results.direct);
  console.log(['| figure | direct | through grpc-proxy |', '|---|---|---|', ...keys.map((k) => `| ${k} | ${results.direct[k]} | ${results.proxy[k]} |`)].join('\n'));
}

// `npm run fleet -- --rollout [--agents N]`: the rollout scenario instead (rollout.ts: waves, bake, a bad change).
if (process.argv.includes('--rollout')) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the scenario runs when its module loads
  require('./rollout');
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}

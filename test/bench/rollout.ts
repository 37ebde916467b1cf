/**
 * `node dist/test/bench/rollout.js [--agents N] [--batch B]` (default 100): the rollout scenario of `npm run fleet`. N agents as
 * separate processes in three waves (5%, 25%, 70%: 5, 25 and 70 of 100), one target with `rollout` (bake 2 s) and a
 * `verify` on every host, against one etcd. Measures, for a good change, when each wave applied it, from the put
 * (p50 and max per wave); for a change that fails `verify`, how many hosts applied it and how long until every
 * canary had rolled back; and the bytes etcd sent while the good change rolled out, against the same change with
 * every agent in wave 0. Agents start `--batch` at a time (default 10). Also counts what the gates' safety re-reads
 * found that their watches had not told. Writes test/bench/results/rollout.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import type { Etcd3 } from 'etcd3';
import { EtcdServer } from '../../scripts/etcd-server';
import { Agent, agents, median, now, readOr, round, sleep, workDir, writeCfg } from './harness';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const arg = (name: string, dflt: number): number => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);
const N = arg('--agents', 100);
const TPL = '<% for (const [k, v] of Object.entries(reconfigdata)) { %><%= k %> <%= v %>\n<% } %>';
const REPORT = '/roll-fleet';
/** How often the files (and the canaries' reports) are looked at: often enough for these figures, rarely enough to leave the 2 cores to the agents. */
const POLL_MS = 20;

interface Host {
  agent: Agent;
  wave: number;
  dest: string;
  /** Its --report-name. */
  name: string;
}

function waveOf(i: number): number {
  return i < Math.round(N * 0.05) ? 0 : i < Math.round(N * 0.3) ? 1 : 2;
}

/** Agents started together; the next batch starts once these have written their reports (2 cores: not all at once). */
const BATCH = arg('--batch', 10);

/**
 * Starts the agents, BATCH at a time: each batch once the one before has written its reports (a report is
 * written once an agent has its targets and its lease, before its first apply, which a later wave does not make
 * until wave 0 has proven a revision).
 */
async function startHosts(root: string, endpoint: string, waves: boolean, client: Etcd3): Promise<Host[]> {
  const hosts: Host[] = [];
  for (let i = 0; i < N; i++) {
    const dir = path.join(root, `${waves ? 'w' : 'flat'}${i}`);
    const dest = path.join(dir, 'out', 'app.conf');
    writeCfg(
      dir,
      [
        {
          id: 'app',
          source: 't.ejs',
          target: dest,
          key: '/roll/app',
          recursive: true,
          reloadcmd: 'true',
          verify: { cmd: `! grep -q bad '${dest}'`, within: '1s', every: '200ms' },
          rollout: { bake: '2s', minhosts: 1 },
        },
      ],
      { 't.ejs': TPL },
    );
    const wave = waves ? waveOf(i) : 0;
    // Each run's reports under a prefix of their own: the agents of the run before may leave theirs for their lease.
    const name = `${waves ? 'w' : 'f'}${i}`;
    hosts.push({ agent: new Agent(['-c', dir, '--endpoints', endpoint, '--report', REPORT, '--report-name', name, '--wave', String(wave)]), wave, dest, name });
    if (hosts.length % BATCH === 0 || i === N - 1) {
      const batch = hosts.slice(-(((hosts.length - 1) % BATCH) + 1));
      const deadline = now() + 300_000;
      for (;;) {
        const present = await Promise.all(batch.map(async (h) => (await client.get(`${REPORT}/${h.name}`).string()) !== null));
        if (present.every(Boolean)) break;
        const dead = batch.find((h) => h.agent.proc.exitCode !== null);
        if (dead) throw new Error(`agent ${dead.name} exited: ${dead.agent.stderr.slice(-2000)}`);
        if (now() > deadline) throw new Error(`${present.filter((p) => !p).length} agent(s) of the batch ending at ${i} wrote no report within 300 s`);
        await sleep(100);
      }
    }
  }
  return hosts;
}

/** Log lines of every agent whose message holds `part`. */
const countAll = (hosts: Host[], part: string): number => hosts.reduce((n, h) => n + h.agent.countSome(part), 0);

/** Polls every file until each holds `needle`; the time (ms since `from`) each first did. Also notes files that ever held `also`. */
async function whenAll(hosts: Host[], needle: string, from: number, seen?: { needle: string; hosts: Set<number> }, timeoutMs = 180_000): Promise<number[]> {
  const at = new Array<number>(hosts.length).fill(-1);
  const deadline = now() + timeoutMs;
  for (;;) {
    let left = 0;
    for (let i = 0; i < hosts.length; i++) {
      const text = readOr(hosts[i].dest);
      if (seen && text.includes(seen.needle)) seen.hosts.add(i);
      if (at[i] < 0 && text.includes(needle)) at[i] = now() - from;
      if (at[i] < 0) left += 1;
    }
    if (left === 0) return at;
    if (now() > deadline) throw new Error(`${left} host(s) never held ${needle}`);
    await sleep(POLL_MS);
  }
}

async function reportState(client: Etcd3, name: string): Promise<string | undefined> {
  const v = await client.get(`${REPORT}/${name}`).string();
  return v === null ? undefined : (JSON.parse(v) as { targets: { app?: { state: string } } }).targets.app?.state;
}

async function stopHosts(hosts: Host[]): Promise<void> {
  await Promise.all(hosts.map((h) => h.agent.stop()));
}

async function main(): Promise<void> {
  const root = workDir('reconfig-rollout-bench-');
  const etcd = await EtcdServer.start();
  const client = etcd.client();
  const sent = (): Promise<number> => etcd.metric('etcd_network_client_grpc_sent_bytes_total');
  const results: Record<string, unknown> = { date: new Date().toISOString(), load: loadavg().map((l) => round(l, 2)).join(' '), agents: N, waves: [0, 1, 2].map((w) => [...Array(N).keys()].filter((i) => waveOf(i) === w).length) };
  try {
    await client.put('/roll/app/k').value('v0');
    const started = now();
    let hosts = await startHosts(root, etcd.url, true, client);
    await whenAll(hosts, 'v0', now(), undefined, 600_000);
    results['start-up: every agent started and holding v0 (s)'] = round((now() - started) / 1000, 1);
    await sleep(3000);

    // A good change, through the waves.
    let before = await sent();
    let t0 = now();
    await client.put('/roll/app/k').value('v1');
    const good = await whenAll(hosts, 'v1', t0);
    const goodBytes = (await sent()) - before;
    for (const w of [0, 1, 2]) {
      const ms = good.filter((_, i) => hosts[i].wave === w);
      results[`good change, wave ${w}: applied after the put, p50 / max (ms)`] = `${round(median(ms), 0)} / ${round(Math.max(...ms), 0)}`;
    }
    results['bytes etcd sent while the good change rolled out, with waves'] = goodBytes;
    await sleep(3000);

    // A change that fails verify on the canaries.
    const canaries = hosts.map((h, i) => (h.wave === 0 ? i : -1)).filter((i) => i >= 0);
    const bad = { needle: 'bad', hosts: new Set<number>() };
    t0 = now();
    await client.put('/roll/app/k').value('bad');
    let rolledBackAt = -1;
    const deadline = now() + 120_000;
    while (rolledBackAt < 0) {
      for (let i = 0; i < hosts.length; i++) if (readOr(hosts[i].dest).includes('bad')) bad.hosts.add(i);
      const states = await Promise.all(canaries.map((i) => reportState(client, hosts[i].name)));
      if (states.every((s) => s === 'rolledback')) rolledBackAt = now() - t0;
      if (now() > deadline) throw new Error(`the canaries never all rolled back: ${states.join(', ')}`);
      await sleep(POLL_MS);
    }
    // The sentinel: a newer good change reaches every host; meanwhile every file is watched for the bad one.
    await client.put('/roll/app/k').value('v2');
    await whenAll(hosts, 'v2', now(), bad);
    results['bad change: hosts that applied it (goal: the canaries only)'] = `${bad.hosts.size} (canaries: ${[...bad.hosts].every((i) => hosts[i].wave === 0) ? 'all of them wave 0' : 'NOT only wave 0'})`;
    results['bad change: from the put until every canary reported it rolled back (ms)'] = round(rolledBackAt, 0);
    // What the gates' safety re-reads found: a change their watch had not told (see src/rollout/gate.ts).
    results['gates: changes found only by the safety re-read'] = countAll(hosts, 'its watch did not tell');
    results['gates: broken watches'] = countAll(hosts, 'rollout watch broken');
    results['gates: failed reads of the rollout'] = countAll(hosts, 'cannot read the rollout');
    await stopHosts(hosts);

    // The same good change with every agent in wave 0.
    hosts = await startHosts(root, etcd.url, false, client);
    await whenAll(hosts, 'v2', now(), undefined, 600_000);
    await sleep(3000);
    before = await sent();
    t0 = now();
    await client.put('/roll/app/k').value('v3');
    const flat = await whenAll(hosts, 'v3', t0);
    results['bytes etcd sent while the same change reached every host, no waves'] = (await sent()) - before;
    results['no waves: applied after the put, p50 / max (ms)'] = `${round(median(flat), 0)} / ${round(Math.max(...flat), 0)}`;
    await stopHosts(hosts);
  } catch (err) {
    // Where the rollout stood: the coordinator's record and each wave's states.
    console.error(await client.get(`${REPORT}/rollout/app`).string());
    const states = new Map<string, number>();
    for (let i = 0; i < N; i++) {
      const v = await client.get(`${REPORT}/w${i}`).string();
      const t = v === null ? undefined : (JSON.parse(v) as { targets: { app?: { state: string; revision: number; message?: string } } }).targets.app;
      const k = `wave ${waveOf(i)}: ${t ? `${t.state} ${t.revision} ${t.message ?? ''}` : 'no report'}`;
      states.set(k, (states.get(k) ?? 0) + 1);
    }
    console.error(states);
    throw err;
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    client.close();
    await etcd.stop();
  }
  const out = path.join(ROOT, 'test', 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'rollout.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(results);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

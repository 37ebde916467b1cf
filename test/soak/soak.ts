/**
 * `npm run soak -- --minutes N`: the built agent against a real three-member etcd cluster, each member behind a
 * TCP proxy (the agent gets the proxies as --endpoints), with writes going on while random faults land:
 * a member killed with -9 and restarted, the leader killed, the whole cluster killed and restarted, every link
 * cut, every link frozen (half-open), one member silent while TCP stays up, and compaction past the agent.
 * At the end it waits for the files to converge and prints the counts; the run fails if any target's final file
 * differs from what etcd holds.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Etcd3 as Client } from 'etcd3';
import { EtcdCluster } from '../../scripts/etcd-server';
import { CLI, agentEnv, sleep, workDir, writeCfg } from '../bench/harness';
import { TcpProxy } from '../support/proxy';

const minutes = Number(process.argv[process.argv.indexOf('--minutes') + 1] ?? 1) || 1;
const LIST = '<% for (const [k, v] of Object.entries(reconfigdata)) { %><%= k %>=<%= v %>\n<% } %>';
const TARGETS = [
  { id: 'a', key: '/soak/a', recursive: true },
  { id: 'b', key: '/soak/b', recursive: true },
  { id: 'c', key: '/soak/c', recursive: false },
];

async function expected(client: Client, t: (typeof TARGETS)[number]): Promise<string> {
  const res = t.recursive ? await client.getAll().prefix(`${t.key}/`).exec() : await client.getAll().prefix(t.key).exec();
  return res.kvs
    .map((kv) => [kv.key.toString(), kv.value.toString()] as const)
    .filter(([k]) => k === t.key || (t.recursive && k.startsWith(`${t.key}/`)))
    .map(([k, v]) => `${k}=${v}\n`)
    .join('');
}

const KINDS = ['kill9_member', 'kill9_leader', 'kill9_all', 'cut', 'freeze', 'silent_member', 'compact'] as const;
type Kind = (typeof KINDS)[number];

async function main(): Promise<void> {
  const cluster = await EtcdCluster.start(3);
  const proxies = await Promise.all(cluster.members.map((m) => TcpProxy.start(m.clientPort)));
  const dir = workDir('soak');
  writeCfg(
    dir,
    TARGETS.map((t) => ({ ...t, source: 'list.ejs', target: path.join(dir, 'out', t.id) })),
    { 'list.ejs': LIST },
  );
  const endpoints = proxies.map((p) => p.url).join(',');
  const agent = spawn(process.execPath, [CLI, '-c', dir, '--endpoints', endpoints], { stdio: ['ignore', 'ignore', 'inherit'], env: agentEnv });
  const newClient = (): Client => new Client({ hosts: cluster.urls });
  let client = newClient();
  const counts: Record<'writes' | 'write_errors' | 'faults' | Kind, number> = {
    writes: 0, write_errors: 0, faults: 0, kill9_member: 0, kill9_leader: 0, kill9_all: 0, cut: 0, freeze: 0, silent_member: 0, compact: 0,
  };
  const end = Date.now() + minutes * 60_000;
  let stop = false;
  const writer = (async () => {
    for (let i = 0; !stop; i++) {
      const t = TARGETS[i % 3];
      const key = t.recursive ? `${t.key}/k${Math.floor(Math.random() * 40)}` : t.key;
      try {
        if (Math.random() < 0.2) await client.delete().key(key);
        else await client.put(key).value(`v${i}`);
        counts.writes++;
      } catch {
        counts.write_errors++;
        await sleep(50);
      }
    }
  })();
  const restartClient = (): void => {
    client.close();
    client = newClient();
  };
  while (Date.now() < end) {
    await sleep(500 + Math.random() * 2500);
    counts.faults++;
    const kind = KINDS[Math.floor(Math.random() * KINDS.length)];
    counts[kind]++;
    if (kind === 'kill9_member' || kind === 'kill9_leader') {
      const victim = kind === 'kill9_leader' ? await cluster.leader().catch(() => cluster.members[0]) : cluster.members[Math.floor(Math.random() * 3)];
      await victim.kill9();
      await sleep(100 + Math.random() * 1900);
      await victim.restart();
      restartClient();
    } else if (kind === 'kill9_all') {
      await Promise.all(cluster.members.map((m) => m.kill9()));
      await sleep(100 + Math.random() * 900);
      await Promise.all(cluster.members.map((m) => m.restart()));
      restartClient();
    } else if (kind === 'cut') {
      for (const p of proxies) p.cut();
    } else if (kind === 'freeze') {
      for (const p of proxies) p.freeze();
      await sleep(1000 + Math.random() * 4000);
      for (const p of proxies) p.cut();
    } else if (kind === 'silent_member') {
      const p = proxies[Math.floor(Math.random() * 3)];
      p.hang();
      await sleep(2000 + Math.random() * 8000);
      p.resume();
    } else {
      try {
        const rev = Number((await client.get('/soak/none').exec()).header.revision);
        await client.kv.compact({ revision: rev, physical: false });
      } catch {
        // the cluster may be restarting; the fault still counts as attempted.
      }
    }
  }
  stop = true;
  await writer;
  // Converge: every target's file matches etcd, within a minute of the last write.
  let mismatches = TARGETS.length;
  for (const deadline = Date.now() + 60_000; Date.now() < deadline && mismatches > 0; await sleep(200)) {
    mismatches = 0;
    for (const t of TARGETS) {
      let file = '';
      try {
        file = readFileSync(path.join(dir, 'out', t.id), 'utf8');
      } catch {
        // not written yet
      }
      if (file !== (await expected(client, t))) mismatches++;
    }
  }
  agent.kill('SIGTERM');
  await new Promise((r) => agent.once('exit', r));
  client.close();
  await Promise.all(proxies.map((p) => p.stop()));
  await cluster.stop();
  console.log(JSON.stringify({ minutes, ...counts, final_state_mismatches: mismatches }));
  console.log(`faults injected: ${counts.faults}, writes: ${counts.writes}, final-state mismatches: ${mismatches}`);
  if (mismatches > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

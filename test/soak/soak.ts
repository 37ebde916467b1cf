/**
 * `npm run soak -- --minutes N`: the built agent against a real etcd behind a TCP proxy, with writes going on
 * while random faults land: etcd killed with -9 and restarted, the link cut, the link frozen (half-open),
 * compaction past the agent. At the end it waits for the files to converge and prints the counts; the run
 * fails if any target's final file differs from what etcd holds. (Three-member cluster faults need
 * several endpoints, which come with the connection issue.)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Etcd3 } from 'etcd3';
import { EtcdServer } from '../../scripts/etcd-server';
import { CLI, agentEnv, sleep, workDir, writeCfg } from '../bench/harness';
import { TcpProxy } from '../support/proxy';

const minutes = Number(process.argv[process.argv.indexOf('--minutes') + 1] ?? 1) || 1;
const LIST = '<% for (const [k, v] of Object.entries(reconfigdata)) { %><%= k %>=<%= v %>\n<% } %>';
const TARGETS = [
  { id: 'a', key: '/soak/a', recursive: true },
  { id: 'b', key: '/soak/b', recursive: true },
  { id: 'c', key: '/soak/c', recursive: false },
];

async function expected(client: Etcd3, t: (typeof TARGETS)[number]): Promise<string> {
  const res = t.recursive ? await client.getAll().prefix(`${t.key}/`).exec() : await client.getAll().prefix(t.key).exec();
  return res.kvs
    .map((kv) => [kv.key.toString(), kv.value.toString()] as const)
    .filter(([k]) => k === t.key || (t.recursive && k.startsWith(`${t.key}/`)))
    .map(([k, v]) => `${k}=${v}\n`)
    .join('');
}

async function main(): Promise<void> {
  const etcd = await EtcdServer.start();
  const proxy = await TcpProxy.start(etcd.clientPort);
  const dir = workDir('soak');
  writeCfg(
    dir,
    TARGETS.map((t) => ({ ...t, source: 'list.ejs', target: path.join(dir, 'out', t.id) })),
    { 'list.ejs': LIST },
  );
  const agent = spawn(process.execPath, [CLI, '-c', dir, '--port', String(proxy.port)], { stdio: ['ignore', 'ignore', 'inherit'], env: agentEnv });
  let client = etcd.client();
  const counts = { writes: 0, write_errors: 0, faults: 0, kill9: 0, cut: 0, freeze: 0, compact: 0 };
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
  while (Date.now() < end) {
    await sleep(500 + Math.random() * 2500);
    counts.faults++;
    const kind = ['kill9', 'cut', 'freeze', 'compact'][Math.floor(Math.random() * 4)] as 'kill9' | 'cut' | 'freeze' | 'compact';
    counts[kind]++;
    if (kind === 'kill9') {
      await etcd.kill9();
      await sleep(100 + Math.random() * 900);
      await etcd.restart();
      client.close();
      client = etcd.client();
    } else if (kind === 'cut') {
      proxy.cut();
    } else if (kind === 'freeze') {
      proxy.freeze();
      await sleep(1000 + Math.random() * 4000);
      proxy.cut();
    } else {
      try {
        const rev = Number((await client.get('/soak/none').exec()).header.revision);
        await client.kv.compact({ revision: rev, physical: false });
      } catch {
        // etcd may be restarting; the fault still counts as attempted.
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
  await proxy.stop();
  await etcd.stop();
  console.log(JSON.stringify({ minutes, ...counts, final_state_mismatches: mismatches }));
  console.log(`faults injected: ${counts.faults}, writes: ${counts.writes}, final-state mismatches: ${mismatches}`);
  if (mismatches > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

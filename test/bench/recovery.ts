/**
 * Bench scenario `recovery`: how long the agent takes to get over the faults of issue 20, each over a few runs
 * (p50 and max): --onetime against a black hole (exit), a link cut past a compaction (the agent's own
 * `reconnected` line to the right file, and the link's return to it), the leader killed under the agent, etcd
 * killed and restarted, and a half-open member (silent, TCP up).
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { EtcdCluster, EtcdServer, freePort } from '../../scripts/etcd-server';
import { BlackHole, TcpProxy } from '../support/proxy';
import { Agent, CLI, agentEnv, median, now, round, sleep, whenFile, workDir, writeCfg } from './harness';

type Figures = Record<string, number>;

/** One target on one key, and an agent on it: `args` say where etcd is. */
async function agentOn(key: string, args: string[]): Promise<{ agent: Agent; dest: string; dir: string }> {
  const dir = workDir('recovery');
  const dest = path.join(dir, 'out', 'r.conf');
  writeCfg(dir, [{ id: 'r', source: 'r.ejs', target: dest, key }], { 'r.ejs': `<%= get(${JSON.stringify(key)}, "none") %>\n` });
  const agent = new Agent(['-c', dir, ...args]);
  await agent.waitLog('first full apply done');
  return { agent, dest, dir };
}

async function done(a: { agent: Agent; dir: string }): Promise<void> {
  await a.agent.stop();
  rmSync(a.dir, { recursive: true, force: true });
}

/** p50 and max of `xs`, as `<name>_p50_ms` and `<name>_max_ms`. */
function spread(name: string, xs: number[]): Figures {
  return { [`${name}_p50_ms`]: round(median(xs)), [`${name}_max_ms`]: round(Math.max(...xs)) };
}

/** Wall time of `reconfig --onetime` against a member that accepts TCP and never answers. */
async function blackHole(runs: number): Promise<Figures> {
  const hole = await BlackHole.start();
  const dir = workDir('blackhole');
  writeCfg(dir, [{ id: 'b', source: 'b.ejs', target: path.join(dir, 'out', 'b.conf'), key: '/b' }], { 'b.ejs': 'x\n' });
  const run = (args: string[]): Promise<{ ms: number; code: number | null }> =>
    new Promise((resolve, reject) => {
      const t0 = now();
      const p = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore', env: agentEnv });
      p.on('error', reject);
      p.on('exit', (code) => resolve({ ms: now() - t0, code }));
    });
  const exits: number[] = [];
  const refused: number[] = [];
  const closed = await freePort();
  try {
    for (let i = 0; i < runs; i++) {
      // The same run against a port nobody listens on fails at once: the start-up cost, without the wait.
      const base = await run(['-c', dir, '--port', String(closed), '--onetime']);
      if (base.code !== 3) throw new Error(`--onetime against a closed port exited ${base.code}, not 3`);
      refused.push(base.ms);
      const r = await run(['-c', dir, '--port', String(hole.port), '--onetime']);
      if (r.code !== 3) throw new Error(`--onetime against a black hole exited ${r.code}, not 3`);
      exits.push(r.ms);
    }
  } finally {
    await hole.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { ...spread('blackhole_exit', exits), refused_exit_p50_ms: round(median(refused)) };
}

/**
 * The link is down while etcd moves on and compacts past the agent; then it is back. From the agent's
 * `reconnected` log line, and from the link's return, to the file holding the value written meanwhile.
 */
async function compaction(etcd: EtcdServer, client: Etcd3, runs: number): Promise<Figures> {
  const fromLine: number[] = [];
  const fromLink: number[] = [];
  for (let i = 0; i < runs; i++) {
    const proxy = await TcpProxy.start(etcd.clientPort);
    const a = await agentOn('/rec/compact', ['--endpoints', proxy.url]);
    try {
      proxy.block();
      await a.agent.waitLog('disconnected from etcd; retrying');
      const value = `c${i}`;
      await client.put('/rec/compact').value(value);
      const rev = Number((await client.put('/rec/other').value(value).exec()).header.revision);
      await client.kv.compact({ revision: rev, physical: true });
      const file = whenFile(a.dest, (c) => c === `${value}\n`);
      proxy.unblock();
      const back = performance.timeOrigin + now();
      const atFile = performance.timeOrigin + (await file);
      await a.agent.waitLog('reconnected');
      const line = a.agent.stderr.split('\n').find((l) => l.includes('"msg":"reconnected'));
      const at = Date.parse((JSON.parse(line!) as { time: string }).time);
      fromLine.push(atFile - at);
      fromLink.push(atFile - back);
    } finally {
      await done(a);
      await proxy.stop();
    }
  }
  return { ...spread('compaction_reconnect_to_file', fromLine), ...spread('compaction_link_back_to_file', fromLink) };
}

/**
 * Puts `value` until a member takes it (a new leader may not be elected yet). Each try has a 300 ms deadline:
 * a proposal made while there is no leader is otherwise held for etcd's request timeout (7 s), which would
 * measure the writer, not the agent.
 */
async function putSoon(urls: string[], key: string, value: string): Promise<void> {
  const c = new Etcd3({ hosts: urls, defaultCallOptions: () => ({ deadline: Date.now() + 300 }) });
  try {
    for (;;) {
      try {
        await c.put(key).value(value);
        return;
      } catch {
        await sleep(20);
      }
    }
  } finally {
    c.close();
  }
}

/** The leader, which is the member the agent uses, is killed: kill -9 to a value written after it in the file. */
async function leaderLoss(cluster: EtcdCluster, runs: number): Promise<Figures> {
  const took: number[] = [];
  const written: number[] = [];
  for (let i = 0; i < runs; i++) {
    const leader = await cluster.leader();
    const others = cluster.members.filter((m) => m !== leader).map((m) => m.url);
    const a = await agentOn('/rec/leader', ['--endpoints', [leader.url, ...others].join(',')]);
    try {
      const value = `l${i}`;
      const file = whenFile(a.dest, (c) => c === `${value}\n`);
      const t0 = now();
      await leader.kill9();
      await putSoon(others, '/rec/leader', value);
      written.push(now() - t0);
      took.push((await file) - t0);
    } finally {
      await done(a);
      await leader.restart();
    }
  }
  return { ...spread('leader_loss_kill_to_file', took), ...spread('leader_loss_kill_to_write', written) };
}

/** etcd killed and started again on its data: from its return (healthy) to a value written then in the file. */
async function restart(runs: number): Promise<Figures> {
  const etcd = await EtcdServer.start();
  const took: number[] = [];
  try {
    const a = await agentOn('/rec/restart', ['--port', String(etcd.clientPort)]);
    try {
      for (let i = 0; i < runs; i++) {
        await etcd.restart();
        const value = `r${i}`;
        const file = whenFile(a.dest, (c) => c === `${value}\n`);
        const t0 = now();
        await putSoon([etcd.url], '/rec/restart', value);
        took.push((await file) - t0);
      }
    } finally {
      await done(a);
    }
  } finally {
    await etcd.stop();
  }
  return spread('restart_back_to_file', took);
}

/** The member in use goes silent with TCP up: from then to a value written meanwhile in the file. */
async function halfOpen(cluster: EtcdCluster, runs: number): Promise<Figures> {
  const took: number[] = [];
  for (let i = 0; i < runs; i++) {
    const proxy = await TcpProxy.start(cluster.members[0].clientPort);
    const rest = cluster.urls.slice(1);
    const a = await agentOn('/rec/half', ['--endpoints', [proxy.url, ...rest].join(',')]);
    try {
      const value = `h${i}`;
      const file = whenFile(a.dest, (c) => c === `${value}\n`, 120_000);
      const t0 = now();
      proxy.hang();
      await putSoon(rest, '/rec/half', value);
      took.push((await file) - t0);
    } finally {
      await done(a);
      await proxy.stop();
    }
  }
  return spread('half_open_to_file', took);
}

export async function recovery(etcd: EtcdServer, client: Etcd3, runs: number): Promise<Figures> {
  const out: Figures = { runs };
  Object.assign(out, await blackHole(runs));
  Object.assign(out, await compaction(etcd, client, runs));
  Object.assign(out, await restart(runs));
  const cluster = await EtcdCluster.start(3);
  try {
    Object.assign(out, await leaderLoss(cluster, runs));
    Object.assign(out, await halfOpen(cluster, runs));
  } finally {
    await cluster.stop();
  }
  return out;
}

/**
 * The pgbouncer example against Patroni: a held config when the leader key is missing (fast, with Patroni's
 * key layout written by the test), then end to end with a real two-node Patroni cluster, a real pgbouncer and
 * a real client, through a switchover.
 */
import assert from 'node:assert/strict';
import { chmodSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AgentProcess } from '../support/cli';
import { EtcdServer, sharedEtcd, uniquePrefix } from '../support/etcd';
import { PatroniCluster, Pgbouncer, postgresDir } from '../support/patroni';
import { makeCfgdir, readOr, waitFor } from '../support/util';

const shared = sharedEtcd();
const REPO = path.resolve(__dirname, '..', '..', '..');

/** The repository's pgbouncer example, writing `databases` and signalling the pgbouncer of `pidfile`. */
function pgbouncerCfg(databases: string, pidfile: string): string {
  const cfg = makeCfgdir({}, {});
  chmodSync(cfg, 0o755);
  const target = JSON.parse(readFileSync(path.join(REPO, 'conf.d', 'pgbouncer.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(path.join(cfg, 'conf.d', 'pgbouncer.json'), JSON.stringify({ ...target, target: databases, reloadsignal: { pidfile, signal: 'SIGHUP' } }));
  cpSync(path.join(REPO, 'templates', 'pgbouncer.ini.ejs'), path.join(cfg, 'templates', 'pgbouncer.ini.ejs'));
  return cfg;
}

const member = (port: number, role: string, state = 'running'): string =>
  JSON.stringify({ conn_url: `postgres://127.0.0.1:${port}/postgres`, api_url: 'http://127.0.0.1:1/patroni', state, role, version: '3.0.2' });

test('pgbouncer example: with no running leader (a switchover) the last good file is held', async () => {
  const p = uniquePrefix('patronihold');
  const s = `${p}/service/demo`;
  await shared.client.put(`${s}/members/pg1`).value(member(5001, 'master'));
  await shared.client.put(`${s}/members/pg2`).value(member(5002, 'replica'));
  await shared.client.put(`${s}/leader`).value('pg1');
  const dir = postgresDir('hold');
  const databases = path.join(dir, 'databases.ini');
  // A stand-in for pgbouncer: a process that lives, so that the reload signal has someone to go to.
  const stub = AgentProcess.startRaw('sh', ['-c', `echo $$ > ${path.join(dir, 'stub.pid')}; trap 'echo HUP >> ${path.join(dir, 'hups')}' HUP; while :; do sleep 0.05 & wait $!; done`]);
  const agent = AgentProcess.start(['-c', pgbouncerCfg(databases, path.join(dir, 'stub.pid')), '--port', String(shared.etcd.clientPort), '-p', p]);
  try {
    await waitFor(() => readOr(databases).includes('postgres = host=127.0.0.1 port=5001 '), 'the leader in the file');
    assert.match(readOr(databases), /^postgres_ro = host=127\.0\.0\.1 port=5002 /m);
    const good = readOr(databases);
    // Patroni deletes the leader key during a switchover, and the old leader goes through "demoted".
    await shared.client.delete().key(`${s}/leader`);
    await shared.client.put(`${s}/members/pg1`).value(member(5001, 'demoted', 'stopping'));
    await agent.waitForLog((l) => /no running leader in \/service\/demo/.test(String(l.err)), 'the hold');
    // The failed render is logged after it was refused: nothing was written.
    assert.equal(readOr(databases), good, 'the last good file is kept');
    await shared.client.put(`${s}/members/pg2`).value(member(5002, 'master'));
    await shared.client.put(`${s}/members/pg1`).value(member(5001, 'replica'));
    await shared.client.put(`${s}/leader`).value('pg2');
    await waitFor(() => readOr(databases).includes('postgres = host=127.0.0.1 port=5002 '), 'the new leader in the file');
    assert.match(readOr(databases), /^postgres_ro = host=127\.0\.0\.1 port=5001 /m);
    await waitFor(() => readOr(path.join(dir, 'hups')).includes('HUP'), 'the reload signal');
  } finally {
    await agent.stop();
    stub.child.kill('SIGKILL');
  }
});

test('pgbouncer follows a real Patroni switchover: a client through pgbouncer always reaches the leader', async () => {
  const etcd = await EtcdServer.start();
  const cluster = PatroniCluster.create(etcd.clientPort);
  const client = etcd.client();
  const dir = postgresDir('bouncer');
  const databases = path.join(dir, 'databases.ini');
  let agent: AgentProcess | undefined;
  let bouncer: Pgbouncer | undefined;
  try {
    const pg1 = await cluster.start('pg1');
    await cluster.waitReady(pg1, 'pg1 to run');
    await waitFor(async () => (await client.get('/service/demo/leader').string()) === 'pg1', 'pg1 to lead', 60_000);
    const pg2 = await cluster.start('pg2');
    await cluster.waitReady(pg2, 'pg2 to clone and run', 90_000);
    await waitFor(async () => /"role":"replica"/.test((await client.get('/service/demo/members/pg2').string()) ?? ''), 'pg2 as a replica', 60_000);

    agent = AgentProcess.start(['-c', pgbouncerCfg(databases, path.join(dir, 'pgbouncer.pid')), '--endpoints', etcd.url]);
    await waitFor(() => readOr(databases).includes(`postgres = host=127.0.0.1 port=${pg1.pgPort} `), 'pgbouncer.ini pointing at pg1');
    bouncer = await Pgbouncer.start(dir, databases);
    const through = (q: string): Promise<string> => PatroniCluster.sql(bouncer!.port, q);
    assert.equal(await through('select pg_is_in_recovery()'), 'f');
    assert.equal(await through('select inet_server_port()'), String(pg1.pgPort));

    await cluster.switchover('pg1', 'pg2');
    await waitFor(() => readOr(databases).includes(`postgres = host=127.0.0.1 port=${pg2.pgPort} `), 'pgbouncer.ini following the switchover', 60_000);
    await agent.waitForLog((l) => l.msg === 'applied' && l.reloaded === true && l.target === 'pgbouncer' && Number(l.revision) > 0, 'the reload');
    await waitFor(async () => (await through('select inet_server_port()').catch(() => '')) === String(pg2.pgPort), 'a client through pgbouncer reaching pg2', 30_000);
    assert.equal(await through('select pg_is_in_recovery()'), 'f', 'the new leader is not in recovery');
    assert.equal(await PatroniCluster.sql(pg1.pgPort, 'select pg_is_in_recovery()').catch(() => 't'), 't', 'the old leader is now a replica');
  } finally {
    await agent?.stop();
    await bouncer?.stop();
    await cluster.stop();
    client.close();
    await etcd.stop();
  }
});

/**
 * etcd password auth against a real etcd with auth enabled and short-lived simple tokens (3 s), through the CLI:
 * the password from the flag and from the environment, a wrong one, and a daemon that outlives its token and
 * then an etcd restart (which forgets every simple token).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Range, type Etcd3 } from 'etcd3';
import { AgentProcess, runCli } from '../support/cli';
import { EtcdServer, metricSum, uniquePrefix } from '../support/etcd';
import { LIST, makeCfgdir, readOr, sleep, waitFor } from '../support/util';

const PASSWORD = 'r00t-secret';
let etcd: EtcdServer;
let client: Etcd3;

before(async () => {
  etcd = await EtcdServer.start(['--auth-token', 'simple', '--auth-token-ttl', '3']);
  await etcd.enableAuth(PASSWORD);
  client = etcd.client({ username: 'root', password: PASSWORD });
});
after(async () => {
  client.close();
  await etcd.stop();
});

function cfg(): string {
  return makeCfgdir({ app: { id: 'app', source: 'list.ejs', target: 'out/app.conf', key: '/app', recursive: true } }, { 'list.ejs': LIST });
}

test('the password works from --user name:password and from RECONFIG_ETCD_PASSWORD', async () => {
  const p = uniquePrefix('auth');
  await client.put(`${p}/app/a`).value('1');
  const viaFlag = cfg();
  const res = await runCli(['-c', viaFlag, '--port', String(etcd.clientPort), '-p', p, '--onetime', '--user', `root:${PASSWORD}`]);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(readFileSync(path.join(viaFlag, 'out/app.conf'), 'utf8'), '/app/a=1\n');
  const viaEnv = cfg();
  const env = await runCli(['-c', viaEnv, '--port', String(etcd.clientPort), '-p', p, '--onetime', '--user', 'root'], {
    env: { RECONFIG_ETCD_PASSWORD: PASSWORD },
  });
  assert.equal(env.code, 0, env.stderr);
  assert.equal(readFileSync(path.join(viaEnv, 'out/app.conf'), 'utf8'), '/app/a=1\n');
  assert.ok(!res.stderr.includes(PASSWORD) && !env.stderr.includes(PASSWORD), 'the password must never be logged');
});

test('a wrong password is refused: exit 3 naming the endpoint, in --onetime and as a daemon; nothing written', async () => {
  const dir = cfg();
  for (const mode of [['--onetime'], []]) {
    const res = await runCli(['-c', dir, '--port', String(etcd.clientPort), ...mode, '--user', 'root'], {
      env: { RECONFIG_ETCD_PASSWORD: 'wrong' },
      timeoutMs: 30_000,
    });
    assert.equal(res.code, 3, `${mode.join(' ') || 'daemon'}: ${res.stderr}`);
    assert.ok(res.stderr.includes(etcd.url), res.stderr);
    assert.match(res.stderr, /authentication failed \(check --user and its password\)/);
    assert.equal(existsSync(path.join(dir, 'out/app.conf')), false);
  }
});

test('--user with no password anywhere is a usage error', async () => {
  const res = await runCli(['-c', cfg(), '--port', String(etcd.clientPort), '--onetime', '--user', 'root'], {
    env: { RECONFIG_ETCD_PASSWORD: '' },
  });
  assert.equal(res.code, 2);
  assert.match(res.stderr, /--user root: no password: set RECONFIG_ETCD_PASSWORD/);
});

test('a daemon idle past its token expiry, then an etcd restart, still follows every change', async () => {
  const p = uniquePrefix('authidle');
  await client.put(`${p}/app/a`).value('1');
  const dir = cfg();
  const out = path.join(dir, 'out/app.conf');
  const agent = AgentProcess.start(['-c', dir, '--port', String(etcd.clientPort), '-p', p, '--user', 'root'], {
    RECONFIG_ETCD_PASSWORD: PASSWORD,
  });
  try {
    await waitFor(() => readOr(out) === '/app/a=1\n', 'first render with auth');
    await sleep(5000); // the 3 s token expires while nothing happens
    await client.put(`${p}/app/b`).value('2');
    await waitFor(() => readOr(out) === '/app/a=1\n/app/b=2\n', 'a change after the token expired');
    await etcd.restart(); // simple tokens live in memory: every one is now invalid
    client.close();
    client = etcd.client({ username: 'root', password: PASSWORD });
    await client.put(`${p}/app/c`).value('3');
    await waitFor(() => readOr(out) === '/app/a=1\n/app/b=2\n/app/c=3\n', 'a change after etcd restarted', 40_000);
    assert.equal(agent.child.exitCode, null, 'the daemon must still run');
    assert.ok(!agent.stderr.includes(PASSWORD), 'the password must never be logged');
  } finally {
    await agent.stop();
  }
});

test('--report with a role that may read its keys but not write the report: refused once in the log, applies go on, no lease piles up', async () => {
  const p = uniquePrefix('role');
  const name = p.slice(1).replace(/[^A-Za-z0-9]/g, '');
  const role = await client.role(`r-${name}`).create();
  await role.grant({ permission: 'Read', range: Range.prefix(`${p}/app`) });
  const user = await client.user(`u-${name}`).create('agent-pw');
  await user.addRole(role);
  await client.put(`${p}/app/a`).value('1');
  const leases = async (): Promise<number> => (await client.leaseClient.leaseLeases()).leases.length;
  const before = await leases();
  const dir = cfg();
  const out = path.join(dir, 'out/app.conf');
  const agent = AgentProcess.start(['-c', dir, '--port', String(etcd.clientPort), '-p', p, '--user', `u-${name}`, '--report', `${p}-fleet`], {
    RECONFIG_ETCD_PASSWORD: 'agent-pw',
  });
  try {
    await waitFor(() => readOr(out) === '/app/a=1\n', 'the first apply');
    const refused = (l: { msg: string }): boolean => /^fleet report not written \(applies go on\): .*permission denied/.test(l.msg);
    await agent.waitForLog(refused, 'the refused report write');
    await client.put(`${p}/app/a`).value('2');
    await waitFor(() => readOr(out) === '/app/a=2\n', 'the next apply, despite the refusal');
    // The write is tried again each second: wait until etcd has refused several more (whatever the machine's
    // pace), then count.
    const refusedPuts = (): Promise<number> => metricSum(etcd, 'grpc_server_handled_total', { grpc_method: 'Put', grpc_code: 'PermissionDenied' });
    const seen = await refusedPuts();
    assert.ok(seen >= 1, 'etcd counted the refused write already logged');
    await waitFor(async () => (await refusedPuts()) >= seen + 4, 'four more refused report writes');
    assert.equal(agent.logs.filter(refused).length, 1, 'the refusal is logged once');
    const grown = (await leases()) - before;
    assert.ok(grown <= 1, `the agent holds ${grown} leases: each refused write left one behind, kept alive`);
    assert.equal(await client.get(`${p}-fleet/${os.hostname()}`).string(), null);
  } finally {
    await agent.stop();
  }
});

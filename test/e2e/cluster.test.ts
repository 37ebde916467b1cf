/**
 * A three-member etcd cluster on loopback. The agent is given every member with --endpoints and uses the first;
 * killing that member, and then the leader, must not lose a change.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { AgentProcess, runCli } from '../support/cli';
import { EtcdCluster } from '../support/etcd';
import { TcpProxy } from '../support/proxy';
import { LIST, makeCfgdir, readOr, waitFor } from '../support/util';

let cluster: EtcdCluster;

before(async () => {
  cluster = await EtcdCluster.start(3);
});
after(() => cluster.stop());

/** A client on the members still running, for the test's own writes. */
function writer(): Etcd3 {
  return new Etcd3({ hosts: cluster.members.filter((m) => m.running).map((m) => m.url) });
}

test('killing the member in use, then the leader: every change still arrives', async () => {
  const dir = makeCfgdir({ app: { id: 'app', source: 'list.ejs', target: 'out/app.conf', key: '/app', recursive: true } }, { 'list.ejs': LIST });
  const out = path.join(dir, 'out/app.conf');
  const agent = AgentProcess.start(['-c', dir, '--endpoints', cluster.urls.join(',')]);
  let w = writer();
  try {
    await w.put('/app/a').value('1');
    await waitFor(() => readOr(out) === '/app/a=1\n', 'first render from the cluster');
    const connected = await agent.waitForLog((l) => l.msg === 'connected; watching', 'connected');
    assert.deepEqual(connected.endpoints, cluster.urls);

    // The agent uses the first member it was given.
    await cluster.members[0].kill9();
    w.close();
    w = writer();
    await w.put('/app/b').value('2');
    await waitFor(() => readOr(out) === '/app/a=1\n/app/b=2\n', 'a change after the member in use died', 40_000);

    // Bring it back, then take the leader away.
    await cluster.members[0].restart();
    const leader = await cluster.leader();
    await leader.kill9();
    w.close();
    w = writer();
    await waitFor(async () => {
      await w.put('/app/c').value('3');
      return true;
    }, 'a write once a new leader is elected', 30_000);
    await waitFor(() => readOr(out) === '/app/a=1\n/app/b=2\n/app/c=3\n', 'a change after the leader died', 40_000);
    await leader.restart();

    const once = await runCli(['-c', dir, '--endpoints', cluster.urls.join(','), '--onetime']);
    assert.equal(once.code, 0, once.stderr);
    assert.match(once.stdout, /1 unchanged/);
    assert.equal(agent.child.exitCode, null, 'the daemon must still run');
  } finally {
    w.close();
    await agent.stop();
  }
});

test('--onetime moves on from a dead first member', async () => {
  const dir = makeCfgdir({ app: { id: 'app', source: 'list.ejs', target: 'out/app.conf', key: '/app', recursive: true } }, { 'list.ejs': LIST });
  const w = writer();
  await w.put('/app/a').value('1');
  w.close();
  // A follower: killing the leader starts an election, whose length (one to several seconds on a loaded machine)
  // is the next test's subject, not this one's.
  const leader = await cluster.leader();
  const first = cluster.members.find((m) => m !== leader && m.running);
  assert.ok(first, 'a running follower');
  const endpoints = [first.url, ...cluster.members.filter((m) => m !== first).map((m) => m.url)];
  await first.kill9();
  try {
    const res = await runCli(['-c', dir, '--endpoints', endpoints.join(','), '--onetime']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(readOr(path.join(dir, 'out/app.conf')), /^\/app\/a=1$/m);
  } finally {
    await first.restart();
  }
});

test('--onetime right after the leader was killed waits out the election within --etcd-timeout', async () => {
  const dir = makeCfgdir({ app: { id: 'app', source: 'list.ejs', target: 'out/app.conf', key: '/app', recursive: true } }, { 'list.ejs': LIST });
  const w = writer();
  await w.put('/app/a').value('1');
  w.close();
  const leader = await cluster.leader();
  await leader.kill9();
  try {
    // The leader first: every member then answers "leader changed" or waits for one, until a new leader is elected.
    const endpoints = [leader.url, ...cluster.members.filter((m) => m !== leader).map((m) => m.url)];
    // etcd's randomized election timeout alone is 1 to 2 s, and a loaded machine adds to it: the default 2.5 s
    // budget (kept so that a black hole exits within 3 s) is too tight to prove the waiting. The mechanism's own
    // test, an HTTP front that says 'leader changed' for a while, does not depend on an election's length.
    const res = await runCli(['-c', dir, '--endpoints', endpoints.join(','), '--onetime', '--etcd-timeout', '15s']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(readOr(path.join(dir, 'out/app.conf')), /^\/app\/a=1$/m);
  } finally {
    await leader.restart();
  }
});

test('a half-open member in use (silent, TCP up) is left for the next member within 30 s', async () => {
  const dir = makeCfgdir({ app: { id: 'app', source: 'list.ejs', target: 'out/app.conf', key: '/half', recursive: true } }, { 'list.ejs': LIST });
  const out = path.join(dir, 'out/app.conf');
  const proxy = await TcpProxy.start(cluster.members[0].clientPort);
  const endpoints = [proxy.url, ...cluster.urls.slice(1)];
  const agent = AgentProcess.start(['-c', dir, '--endpoints', endpoints.join(',')]);
  const w = writer();
  try {
    await w.put('/half/a').value('1');
    await waitFor(() => readOr(out) === '/half/a=1\n', 'first render through the proxy');
    await agent.waitForLog((l) => l.msg === 'connected; watching', 'the watch');
    assert.ok(proxy.connections > 0, 'the agent uses the first member, through the proxy');
    proxy.hang();
    const silentAt = Date.now();
    await w.put('/half/a').value('2');
    await waitFor(() => readOr(out) === '/half/a=2\n', 'the change made while the member in use was silent', 45_000);
    const took = Date.now() - silentAt;
    assert.ok(took < 30_000, `took ${took} ms`);
    const log = agent.logs.map((l) => `${l.level} ${l.msg} ${typeof l.err === 'string' ? l.err : ''}`).join('\n');
    assert.equal(agent.count((l) => l.msg === 'disconnected from etcd; retrying'), 1, `the outage is logged once:\n${log}`);
  } finally {
    w.close();
    await agent.stop();
    await proxy.stop();
  }
});

/**
 * The daemon finding etcd through DNS SRV served by a real dnsmasq: a dead preferred member, records that move
 * to another cluster while it runs, TLS checked against the SRV target's name, and a name that does not exist.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { cert, certsDir } from '../support/certs';
import { AgentProcess, runCli } from '../support/cli';
import { Dnsmasq } from '../support/dnsmasq';
import { EtcdServer, freePort } from '../support/etcd';
import { LIST, makeCfgdir, readOr, waitFor } from '../support/util';

const SRV = '_etcd-client._tcp.reconfig.test';

function cfg(): string {
  return makeCfgdir({ app: { id: 'app', source: 'list.ejs', target: 'out/app.conf', key: '/app', recursive: true } }, { 'list.ejs': LIST });
}

test('a dead preferred SRV target does not stop the agent; the next record serves', async () => {
  const etcd = await EtcdServer.start();
  const dead = await freePort();
  const dns = await Dnsmasq.start({
    srv: [
      { name: SRV, target: 'dead.reconfig.test', port: dead, priority: 0 },
      { name: SRV, target: 'live.reconfig.test', port: etcd.clientPort, priority: 10 },
    ],
    hosts: { 'dead.reconfig.test': '127.0.0.1', 'live.reconfig.test': '127.0.0.1' },
  });
  const client = etcd.client();
  const dir = cfg();
  const out = path.join(dir, 'out/app.conf');
  const agent = AgentProcess.start(['-c', dir, '--srv', 'reconfig.test', '--dns', dns.address]);
  try {
    await client.put('/app/a').value('1');
    await waitFor(() => readOr(out) === '/app/a=1\n', 'first render through SRV');
    await client.put('/app/b').value('2');
    await waitFor(() => readOr(out) === '/app/a=1\n/app/b=2\n', 'a change through SRV');
    const once = await runCli(['-c', cfg(), '--srv', 'reconfig.test', '--dns', dns.address, '--onetime']);
    assert.equal(once.code, 0, once.stderr);
  } finally {
    await agent.stop();
    client.close();
    await dns.stop();
    await etcd.stop();
  }
});

test('when every member has failed, the records are resolved again and the agent follows them', async () => {
  const [oldEtcd, newEtcd] = await Promise.all([EtcdServer.start(), EtcdServer.start()]);
  const dns = await Dnsmasq.start({
    srv: [{ name: SRV, target: 'old.reconfig.test', port: oldEtcd.clientPort }],
    hosts: { 'old.reconfig.test': '127.0.0.1' },
  });
  const oldClient = oldEtcd.client();
  const newClient = newEtcd.client();
  const dir = cfg();
  const out = path.join(dir, 'out/app.conf');
  const agent = AgentProcess.start(['-c', dir, '--srv', 'reconfig.test', '--dns', dns.address]);
  try {
    await oldClient.put('/app/where').value('old');
    await waitFor(() => readOr(out) === '/app/where=old\n', 'render from the old cluster');
    // The cluster moves: new records, the old member gone.
    await newClient.put('/app/where').value('new');
    await dns.replace({
      srv: [{ name: SRV, target: 'new.reconfig.test', port: newEtcd.clientPort }],
      hosts: { 'new.reconfig.test': '127.0.0.1' },
    });
    await oldEtcd.kill9();
    await waitFor(() => readOr(out) === '/app/where=new\n', 'render from the new cluster', 40_000);
    await agent.waitForLog((l) => /now gives http:\/\/127\.0\.0\.1:\d+ \(new\.reconfig\.test\)/.test(l.msg), 'the new list logged');
    await newClient.put('/app/more').value('1');
    await waitFor(() => readOr(out) === '/app/more=1\n/app/where=new\n', 'a change on the new cluster');
  } finally {
    await agent.stop();
    oldClient.close();
    newClient.close();
    await dns.stop();
    await Promise.all([oldEtcd.stop(), newEtcd.stop()]);
  }
});

test('TLS through SRV: the member is reached by address and its certificate checked against the SRV target name', async () => {
  const etcd = await EtcdServer.start({ tls: { dir: certsDir(), clientCertAuth: true } });
  const dns = await Dnsmasq.start({
    srv: [
      { name: '_etcd-client-ssl._tcp.reconfig.test', target: 'etcd.reconfig.test', port: etcd.clientPort },
      // A name the certificate does not carry: must be refused, not trusted.
      { name: '_etcd-client-ssl._tcp.wrong.reconfig.test', target: 'etcd.elsewhere.example', port: etcd.clientPort },
    ],
    hosts: { 'etcd.reconfig.test': '127.0.0.1', 'etcd.elsewhere.example': '127.0.0.1' },
  });
  const client = etcd.client();
  const tls = ['--ssl', '--ssl_cafile', cert('ca.pem'), '--ssl_cert', cert('client.pem'), '--ssl_key', cert('client.key')];
  try {
    await client.put('/app/a').value('tls');
    const dir = cfg();
    const agent = AgentProcess.start(['-c', dir, '--srv', 'reconfig.test', '--dns', dns.address, ...tls]);
    try {
      await waitFor(() => readOr(path.join(dir, 'out/app.conf')) === '/app/a=tls\n', 'render over TLS found through SRV');
    } finally {
      await agent.stop();
    }
    const once = await runCli(['-c', cfg(), '--srv', 'reconfig.test', '--dns', dns.address, '--onetime', ...tls]);
    assert.equal(once.code, 0, once.stderr);
    for (const mode of [['--onetime'], []]) {
      const wrong = await runCli(['-c', cfg(), '--srv', 'wrong.reconfig.test', '--dns', dns.address, ...mode, ...tls], { timeoutMs: 30_000 });
      assert.equal(wrong.code, 3, wrong.stderr);
      assert.match(wrong.stderr, /etcd\.elsewhere\.example/);
      assert.match(wrong.stderr, /certificate is not trusted/);
    }
  } finally {
    client.close();
    await dns.stop();
    await etcd.stop();
  }
});

test('--srv with a name that does not exist exits 3, naming the record that was queried', async () => {
  const dns = await Dnsmasq.start({});
  try {
    for (const mode of [['--onetime'], []]) {
      const res = await runCli(['-c', cfg(), '--srv', 'nowhere.reconfig.test', '--dns', dns.address, ...mode], { timeoutMs: 30_000 });
      assert.equal(res.code, 3, res.stderr);
      assert.match(res.stderr, /DNS SRV _etcd-client\._tcp\.nowhere\.reconfig\.test: the name does not exist/);
    }
  } finally {
    await dns.stop();
  }
});

import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { noObserver, type Sync } from '../../src/agent/observer';
import { EtcdServer, sharedEtcd, uniquePrefix } from '../support/etcd';
import { startAgent } from '../support/agent';
import { TcpProxy } from '../support/proxy';
import { LIST, makeCfgdir, readOr, sleep, waitFor } from '../support/util';

const shared = sharedEtcd();

async function expected(prefix: string): Promise<string> {
  const res = await shared.client.getAll().prefix(`${prefix}/f/`).exec();
  return res.kvs.map((kv) => `${kv.key.toString().slice(prefix.length)}=${kv.value.toString()}\n`).join('');
}

function target(): string {
  return makeCfgdir({ f: { id: 'f', source: 'list.ejs', target: 'out/f', key: '/f', recursive: true } }, { 'list.ejs': LIST });
}

/**
 * An in-process agent on its own prefix, reaching the shared etcd through a proxy the test can cut, freeze or
 * silence; `body` runs once the first render is on disk and the watch is up.
 */
async function behindProxy(
  name: string,
  body: (t: { p: string; proxy: TcpProxy; out: string; agent: ReturnType<typeof startAgent> }) => Promise<void>,
): Promise<void> {
  const p = uniquePrefix(name);
  const proxy = await TcpProxy.start(shared.etcd.clientPort);
  const cfg = target();
  const out = path.join(cfg, 'out/f');
  await shared.client.put(`${p}/f/start`).value('0');
  const agent = startAgent({ cfgdir: cfg, endpoint: proxy.url, prefix: p });
  try {
    await waitFor(() => readOr(out) === '/f/start=0\n', 'initial render');
    await waitFor(() => agent.logs.some((l) => l.msg === 'connected; watching'), 'the watch');
    await body({ p, proxy, out, agent });
  } finally {
    await agent.stop();
    await proxy.stop();
  }
}

test('the link is cut at random moments during a steady stream of writes: the file converges', async () => {
  const p = uniquePrefix('cut');
  const proxy = await TcpProxy.start(shared.etcd.clientPort);
  const cfg = target();
  const out = path.join(cfg, 'out/f');
  const a = startAgent({ cfgdir: cfg, endpoint: proxy.url, prefix: p });
  try {
    await waitFor(() => a.logs.some((l) => l.msg === 'connected; watching'), 'connected');
    let cuts = 0;
    const writer = (async () => {
      for (let i = 0; i < 400; i++) {
        await shared.client.put(`${p}/f/k${i % 37}`).value(String(i));
        if (i % 3 === 0) await shared.client.delete().key(`${p}/f/k${(i * 7) % 37}`);
      }
    })();
    let done = false;
    void writer.then(() => (done = true));
    while (!done) {
      await sleep(20 + Math.random() * 120);
      proxy.cut();
      cuts++;
    }
    await writer;
    const want = await expected(p);
    await waitFor(() => readOr(out) === want, `convergence after ${cuts} cuts`, 30_000);
    assert.ok(cuts >= 3, `only ${cuts} cuts`);
  } finally {
    await a.stop();
    await proxy.stop();
  }
});

test('etcd is compacted past the agent while it is cut off, and more than 1,000 revisions pass: it resyncs', () =>
  behindProxy('compact', async ({ p, proxy, out, agent }) => {
    proxy.freeze();
    for (let i = 0; i < 1200; i++) await shared.client.put(`${p}/f/k${i % 50}`).value(String(i));
    const rev = Number((await shared.client.put(`${p}/f/last`).value('x').exec()).header.revision);
    await shared.client.kv.compact({ revision: rev, physical: true });
    proxy.cut();
    const want = await expected(p);
    await waitFor(() => readOr(out) === want, 'convergence after compaction', 40_000);
    // The resumed watch met the compaction, and the agent read afresh.
    await waitFor(() => agent.logs.some((l) => l.msg === 'etcd cancelled the watch; reading a fresh snapshot'), 'the cancel logged');
    await waitFor(() => agent.logs.some((l) => /^(reconnected; )?resynced at revision \d+$/.test(l.msg)), 'a fresh snapshot');
  }));

test('a half-open link (peer silent, TCP up) is noticed and the agent reconnects and converges within 30 s', () =>
  behindProxy('halfopen', async ({ p, proxy, out, agent }) => {
    proxy.freeze();
    const frozenAt = Date.now();
    await shared.client.put(`${p}/f/start`).value('2');
    await waitFor(() => readOr(out) === '/f/start=2\n', 'the change made while the link was silent', 45_000);
    const took = Date.now() - frozenAt;
    assert.ok(took < 30_000, `took ${took} ms`);
    assert.ok(agent.logs.some((l) => l.msg === 'disconnected from etcd; retrying'), 'the silence was noticed as a disconnect');
  }));

test('etcd is killed (-9) and restarted five times, with writes landing right after each restart: the file converges', async () => {
  const own = await EtcdServer.start();
  let client = own.client();
  const cfg = target();
  const out = path.join(cfg, 'out/f');
  const a = startAgent({ cfgdir: cfg, endpoint: own.url });
  try {
    await client.put('/f/round').value('0');
    await waitFor(() => readOr(out) === '/f/round=0\n', 'initial render');
    for (let round = 1; round <= 5; round++) {
      await own.kill9();
      await sleep(Math.random() * 500);
      await own.restart();
      client.close();
      client = own.client();
      // No pause: these land while the agent is still reconnecting.
      for (let i = 0; i < 20; i++) await client.put(`/f/k${i}`).value(`r${round}`);
      await client.put('/f/round').value(String(round));
    }
    const res = await client.getAll().prefix('/f/').exec();
    const want = res.kvs.map((kv) => `${kv.key.toString()}=${kv.value.toString()}\n`).join('');
    await waitFor(() => readOr(out) === want, 'convergence after five crashes', 40_000);
    assert.match(readOr(out), /\/f\/round=5/);
    assert.ok(a.logs.filter((l) => l.msg === 'disconnected from etcd; retrying').length >= 1);
  } finally {
    await a.stop();
    client.close();
    await own.stop();
  }
});

test('cut off while more than 1,000 revisions land, then cut again during the catch-up: it converges', () =>
  behindProxy('catchup', async ({ p, proxy, out }) => {
    proxy.hang();
    for (let i = 0; i < 1500; i++) await shared.client.put(`${p}/f/k${i % 60}`).value(String(i));
    proxy.resume();
    // The agent is now catching up (re-read and re-watch); cut it a few times while it does.
    for (let i = 0; i < 4; i++) {
      await sleep(30 + Math.random() * 150);
      proxy.cut();
    }
    const want = await expected(p);
    await waitFor(() => readOr(out) === want, 'convergence after the catch-up was cut', 40_000);
  }));

test('etcd is killed (-9) and restarted under an agent holding 2,000 keys: it resumes, and etcd sends the few changes, not every key again', async () => {
  const own = await EtcdServer.start();
  let client = own.client();
  const cfg = target();
  const out = path.join(cfg, 'out/f');
  const value = 'v'.repeat(100);
  const key = (i: number): string => `/f/k${String(i).padStart(4, '0')}`;
  for (let i = 0; i < 2000; i += 200) await Promise.all(Array.from({ length: 200 }, (_, j) => client.put(key(i + j)).value(value)));
  const syncs: Sync[] = [];
  const a = startAgent({ cfgdir: cfg, endpoint: own.url, observer: { ...noObserver, synced: (s) => syncs.push(s) } });
  try {
    await waitFor(() => readOr(out).split('\n').length === 2001, 'the first render of 2,000 keys');
    const before = await own.metric('etcd_network_client_grpc_sent_bytes_total');
    await own.kill9();
    await own.restart();
    client.close();
    client = own.client();
    await client.put(key(1)).value('changed');
    await client.delete().key(key(2));
    await client.put('/f/new').value('added');
    // Not read back from etcd: that read would be counted too.
    const lines = Array.from({ length: 2000 }, (_, i) => i).filter((i) => i !== 2).map((i) => `${key(i)}=${i === 1 ? 'changed' : value}\n`);
    const want = [...lines, '/f/new=added\n'].join('');
    await waitFor(() => readOr(out) === want, 'the three changes made after the restart', 40_000);
    // etcd's counter started again with the process: it is what etcd sent since the restart, the test's own calls included.
    const after = await own.metric('etcd_network_client_grpc_sent_bytes_total');
    assert.ok(after * 10 < before, `etcd sent ${after} bytes after the restart, against ${before} for the first snapshot`);
    assert.deepEqual(
      syncs.map((s) => [s.after, s.how, s.keys]),
      [
        ['start', 'snapshot', 2000],
        ['outage', 'resume', 0],
      ],
    );
  } finally {
    await a.stop();
    client.close();
    await own.stop();
  }
});

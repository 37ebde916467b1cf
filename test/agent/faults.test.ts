import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
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
  behindProxy('compact', async ({ p, proxy, out }) => {
    proxy.freeze();
    for (let i = 0; i < 1200; i++) await shared.client.put(`${p}/f/k${i % 50}`).value(String(i));
    const rev = Number((await shared.client.put(`${p}/f/last`).value('x').exec()).header.revision);
    await shared.client.kv.compact({ revision: rev, physical: true });
    proxy.cut();
    const want = await expected(p);
    await waitFor(() => readOr(out) === want, 'convergence after compaction', 40_000);
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

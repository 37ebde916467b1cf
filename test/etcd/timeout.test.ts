/**
 * --etcd-timeout against members that accept TCP and never answer (black holes): the one-shot reader gives up
 * within the budget, naming the member and what it waited for; a silent first member still leaves the next one
 * time to answer; the watching agent's store uses the same deadline for its unary calls.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../../src/errors';
import { EtcdStore } from '../../src/etcd/client';
import { GatewayReader } from '../../src/etcd/gateway';
import { connectionSettings } from '../../src/etcd/settings';
import { runCli } from '../support/cli';
import { at, EtcdServer, sharedEtcd, uniquePrefix } from '../support/etcd';
import { BlackHole, TcpProxy } from '../support/proxy';
import { LIST, makeCfgdir, waitFor } from '../support/util';

const shared = sharedEtcd();
const spec = [{ key: '/timeout', recursive: true }];
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function withHoles<T>(n: number, fn: (holes: BlackHole[]) => Promise<T>): Promise<T> {
  const holes: BlackHole[] = [];
  try {
    for (let i = 0; i < n; i++) holes.push(await BlackHole.start());
    return await fn(holes);
  } finally {
    await Promise.all(holes.map((h) => h.stop()));
  }
}

test('--etcd-timeout: 2.5 s by default, any duration, and a bad value is a usage error naming the flag', () => {
  const flags = { host: '127.0.0.1', port: 2379 };
  assert.equal(connectionSettings(flags).timeoutMs, 2500);
  assert.equal(connectionSettings({ ...flags, etcdTimeout: '10s' }).timeoutMs, 10_000);
  assert.equal(connectionSettings({ ...flags, etcdTimeout: '750ms' }).timeoutMs, 750);
  for (const bad of ['soon', '3', '0s', '-1s']) {
    assert.throws(() => connectionSettings({ ...flags, etcdTimeout: bad }), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /^--etcd-timeout: /);
      return true;
    });
  }
});

test('--host: an IPv6 literal is bracketed in the endpoint URL, a name or an IPv4 address is not', async () => {
  const url = async (host: string): Promise<string> => (await connectionSettings({ host, port: 2379 }).source.resolve())[0].url;
  assert.equal(await url('::1'), 'http://[::1]:2379');
  assert.equal(await url('[::1]'), 'http://[::1]:2379');
  assert.equal(await url('127.0.0.1'), 'http://127.0.0.1:2379');
  assert.equal(await url('etcd.example'), 'http://etcd.example:2379');
});

test('a black hole: the gateway reader gives up naming the member and the range read it waited for', async () => {
  await withHoles(1, async ([hole]) => {
    const reader = new GatewayReader(at(hole.url));
    try {
      await assert.rejects(reader.snapshot(spec), new RegExp(`^EtcdError: etcd ${esc(hole.url)} did not answer the range read within 2.5 s$`));
      await waitFor(() => hole.connections === 0, 'the connection of the request given up to close');
    } finally {
      reader.close();
    }
    const short = new GatewayReader({ ...at(hole.url), timeoutMs: 1500 });
    try {
      await assert.rejects(short.snapshot(spec), /did not answer the range read within 1\.5 s$/);
    } finally {
      short.close();
    }
  });
});

test('black holes first: the members share the budget, so the one that answers is still read', async () => {
  const p = uniquePrefix('share');
  await shared.client.put(`${p}/k`).value('v');
  await withHoles(2, async (holes) => {
    const reader = new GatewayReader(at(...holes.map((h) => h.url), shared.etcd.url));
    try {
      const snap = await reader.snapshot([{ key: `${p}/k`, recursive: false }]);
      assert.deepEqual(snap.kvs, [[{ key: `${p}/k`, value: 'v' }]]);
    } finally {
      reader.close();
    }
  });
  await withHoles(3, async (holes) => {
    // A 3 s budget shared by three silent members: 1 s each.
    const reader = new GatewayReader({ ...at(...holes.map((h) => h.url)), timeoutMs: 3000 });
    try {
      const each = holes.map((h) => `etcd ${esc(h.url)} did not answer the range read within 1 s`).join('; ');
      await assert.rejects(reader.snapshot(spec), new RegExp(`^EtcdError: etcd read failed on every member: ${each}$`));
    } finally {
      reader.close();
    }
  });
});

test('without the gateway, the gRPC fallback stays within the same budget', async () => {
  const own = await EtcdServer.start(['--enable-grpc-gateway=false']);
  const proxy = await TcpProxy.start(own.clientPort);
  const reader = new GatewayReader({ ...at(proxy.url), timeoutMs: 1000 });
  try {
    await reader.snapshot(spec);
    assert.equal(reader.transport, 'grpc');
    proxy.hang();
    await assert.rejects(reader.snapshot(spec), new RegExp(`^EtcdError: etcd ${esc(proxy.url)} did not answer the range read \\(over gRPC\\) within 1 s$`));
    proxy.resume();
    // The client given up was dropped: the next read starts afresh and works.
    assert.deepEqual((await reader.snapshot(spec)).kvs, [[]]);
  } finally {
    reader.close();
    await proxy.stop();
    await own.stop();
  }
});

test('the watching agent\'s store uses the same deadline for its reads', async () => {
  await withHoles(1, async ([hole]) => {
    const store = new EtcdStore({ ...at(hole.url), timeoutMs: 1200 });
    try {
      await assert.rejects(store.snapshot(spec), new RegExp(`^EtcdError: etcd read on ${esc(hole.url)}: unreachable: .*Deadline exceeded after 1\\.[0-9]+s`));
    } finally {
      store.close();
    }
  });
});

test('--onetime against a black hole exits 3, naming the member and what it waited for', async () => {
  await withHoles(1, async ([hole]) => {
    const dir = makeCfgdir({ app: { id: 'app', source: 'list.ejs', target: 'out/app.conf', key: '/app', recursive: true } }, { 'list.ejs': LIST });
    const res = await runCli(['-c', dir, '--port', String(hole.port), '--onetime']);
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, new RegExp(`etcd ${esc(hole.url)} did not answer the range read within 2.5 s`));
  });
});

/**
 * A member between leaders: etcd's gateway answers `etcdserver: leader changed` (gRPC UNAVAILABLE, HTTP 503) until a
 * new leader is elected. Here an HTTP front says so for `electionMs`, then forwards to the real etcd.
 */
async function electing<T>(target: string, electionMs: number, fn: (url: string) => Promise<T>): Promise<T> {
  const http = await import('node:http');
  const until = Date.now() + electionMs;
  let refused = 0;
  const server = http.createServer((req, res) => {
    if (Date.now() < until) {
      refused += 1;
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'etcdserver: leader changed', code: 14, message: 'etcdserver: leader changed' }));
      return;
    }
    const up = http.request(`${target}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', (err) => res.destroy(err));
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    return await fn(`http://127.0.0.1:${port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    assert.ok(refused > 0, 'the front said "leader changed" at least once');
  }
}

test('a member between leaders: the read is tried again within the budget, and gives up naming the election past it', async () => {
  const prefix = uniquePrefix('/timeout');
  await shared.client.put(`${prefix}/a`).value('1');
  const specs = [{ key: prefix, recursive: true }];
  await electing(shared.etcd.url, 800, async (url) => {
    const reader = new GatewayReader(at(url));
    try {
      const snap = await reader.snapshot(specs);
      assert.deepEqual(snap.kvs, [[{ key: `${prefix}/a`, value: '1' }]]);
    } finally {
      reader.close();
    }
  });
  await electing(shared.etcd.url, 60_000, async (url) => {
    const reader = new GatewayReader({ ...at(url), timeoutMs: 600 });
    const started = Date.now();
    try {
      await assert.rejects(reader.snapshot(specs), /leader changed/);
      assert.ok(Date.now() - started < 5_000, 'gave up near the budget');
    } finally {
      reader.close();
    }
  });
});

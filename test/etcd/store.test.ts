import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EtcdStore } from '../../src/etcd/client';
import { GatewayReader } from '../../src/etcd/gateway';
import { mergeRanges, SpecIndex, specWants, type WatchEvent } from '../../src/etcd/store';
import { at, EtcdServer, sharedEtcd, uniquePrefix } from '../support/etcd';
import { TcpProxy } from '../support/proxy';
import { waitFor } from '../support/util';

const shared = sharedEtcd();

test('specWants: a directory never matches a sibling with the same start', () => {
  const spec = { key: '/app', recursive: true };
  assert.ok(specWants(spec, '/app'));
  assert.ok(specWants(spec, '/app/x/y'));
  assert.ok(!specWants(spec, '/apple'));
  assert.ok(!specWants(spec, '/app-x'));
  assert.ok(!specWants({ key: '/app', recursive: false }, '/app/x'));
});

test('SpecIndex finds every spec that wants a key, and only those', () => {
  const specs = [
    { key: '/a', recursive: true },
    { key: '/a/b', recursive: false },
    { key: '/a/b', recursive: true },
    { key: '/ab', recursive: true },
    { key: '/c', recursive: false },
  ];
  const index = new SpecIndex(specs, (s) => s);
  for (const key of ['/a', '/a/b', '/a/b/c', '/ab', '/ab/x', '/abc', '/c', '/c/d', '/z']) {
    const ids = (list: typeof specs): number[] => list.map((s) => specs.indexOf(s)).sort((x, y) => x - y);
    assert.deepEqual(ids(index.lookup(key)), ids(specs.filter((s) => specWants(s, key))), key);
  }
});

test('mergeRanges: nested and overlapping specs share a range; too many become one span', () => {
  const r = mergeRanges([
    { key: '/a', recursive: true },
    { key: '/a/b', recursive: false },
    { key: '/c', recursive: false },
  ]);
  assert.deepEqual(r.map((x) => [x.start.toString(), x.end.toString()]), [['/a', '/a0'], ['/c', '/c\0']]);
  const many = Array.from({ length: 100 }, (_, i) => ({ key: `/k${String(i).padStart(3, '0')}`, recursive: false }));
  const span = mergeRanges(many, 64);
  assert.equal(span.length, 1);
  assert.equal(span[0].start.toString(), '/k000');
  assert.equal(span[0].end.toString(), '/k099\0');
});

test('snapshot reads every spec at one revision and only the keys each wants', async () => {
  const p = uniquePrefix('snap');
  for (const [k, v] of [['/app', 'root'], ['/app/a', '1'], ['/app/b/c', '2'], ['/apple', 'no'], ['/app-x', 'no'], ['/one', '1']]) {
    await shared.client.put(p + k).value(v);
  }
  const store = new EtcdStore(at(shared.etcd.url));
  try {
    const snap = await store.snapshot([{ key: `${p}/app`, recursive: true }, { key: `${p}/one`, recursive: false }, { key: `${p}/none`, recursive: false }]);
    const rev = Number((await shared.client.get(`${p}/one`).exec()).header.revision);
    assert.equal(snap.revision, rev);
    assert.deepEqual(snap.kvs[0].map((kv) => kv.key.slice(p.length)), ['/app', '/app/a', '/app/b/c']);
    assert.deepEqual(snap.kvs[1], [{ key: `${p}/one`, value: '1' }]);
    assert.deepEqual(snap.kvs[2], []);
  } finally {
    store.close();
  }
});

test('watch delivers every change after the snapshot, in order, filtered to the specs', async () => {
  const p = uniquePrefix('watch');
  const store = new EtcdStore(at(shared.etcd.url));
  const specs = [{ key: `${p}/app`, recursive: true }];
  const snap = await store.snapshot(specs);
  // Written between snapshot and watch: must still arrive.
  await shared.client.put(`${p}/app/early`).value('e');
  const events: WatchEvent[] = [];
  const h = await store.watch(specs, snap.revision + 1, {
    onEvents: (ev) => events.push(...ev),
    onBroken: (err) => assert.fail(err),
  });
  try {
    await shared.client.put(`${p}/apple`).value('x');
    await shared.client.put(`${p}/app/a`).value('1');
    await shared.client.delete().key(`${p}/app/early`);
    await waitFor(() => events.length >= 3, 'three events');
    assert.deepEqual(events.map((e) => [e.type, e.key.slice(p.length), e.value]), [
      ['put', '/app/early', 'e'],
      ['put', '/app/a', '1'],
      ['delete', '/app/early', ''],
    ]);
    assert.ok(events[0].revision < events[1].revision && events[1].revision < events[2].revision);
  } finally {
    await h.cancel();
    store.close();
  }
});

test('a watch from a compacted revision is reported broken, not silently dead', async () => {
  const p = uniquePrefix('compact');
  const store = new EtcdStore(at(shared.etcd.url));
  const r1 = Number((await shared.client.put(`${p}/k`).value('1').exec()).header.revision);
  const r2 = Number((await shared.client.put(`${p}/k`).value('2').exec()).header.revision);
  await shared.client.put(`${p}/k`).value('3');
  await shared.client.kv.compact({ revision: r2 + 1, physical: true });
  let broken: Error | null = null;
  const h = await store.watch([{ key: `${p}/k`, recursive: false }], r1, {
    onEvents: () => undefined,
    onBroken: (err) => (broken = err),
  }).catch((err: Error) => {
    broken = err;
    return null;
  });
  try {
    await waitFor(() => broken, 'the compacted watch to break');
    assert.match(String(broken), /127\.0\.0\.1/);
  } finally {
    await h?.cancel();
    store.close();
  }
});

test('many specs share one watch stream', async () => {
  const p = uniquePrefix('streams');
  const store = new EtcdStore(at(shared.etcd.url));
  const specs = Array.from({ length: 200 }, (_, i) => ({ key: `${p}/k${i}`, recursive: i % 2 === 0 }));
  const got = new Set<string>();
  const h = await store.watch(specs, (await store.snapshot(specs)).revision + 1, {
    onEvents: (ev) => ev.forEach((e) => got.add(e.key)),
    onBroken: (err) => assert.fail(err),
  });
  try {
    assert.equal(await shared.etcd.metric('etcd_debugging_mvcc_watch_stream_total'), 1);
    await shared.client.put(`${p}/k7`).value('x');
    await shared.client.put(`${p}/k8/sub`).value('y');
    await shared.client.put(`${p}/k7/sub`).value('not wanted: k7 is not recursive');
    // The sentinel: 200 specs are more than 64 ranges, so one span and one watcher carry them all, in order.
    // Once it is here, the unwanted event would have been too.
    await shared.client.put(`${p}/k9`).value('sentinel');
    await waitFor(() => got.has(`${p}/k9`), 'the sentinel');
    assert.deepEqual([...got].sort(), [`${p}/k7`, `${p}/k8/sub`, `${p}/k9`]);
  } finally {
    await h.cancel();
    store.close();
  }
});

test('a killed etcd breaks the watch and fails reads naming the endpoint', async () => {
  const own = await EtcdServer.start();
  const store = new EtcdStore(at(own.url), { callTimeoutMs: 1000 });
  let broken: Error | null = null;
  const specs = [{ key: '/x', recursive: true }];
  const h = await store.watch(specs, (await store.snapshot(specs)).revision + 1, {
    onEvents: () => undefined,
    onBroken: (err) => (broken = err),
  });
  try {
    await own.kill9();
    await waitFor(() => broken, 'the watch to break');
    await assert.rejects(store.snapshot(specs), new RegExp(`etcd read on ${own.url}: unreachable`));
  } finally {
    await h.cancel();
    store.close();
    await own.stop();
  }
});

test('a directory larger than one page is read whole, at the snapshot revision', async () => {
  const p = uniquePrefix('pages');
  const n = 12_345;
  for (let i = 0; i < n; i += 128) {
    const ops = [];
    for (let j = i; j < Math.min(n, i + 128); j++) ops.push(shared.client.put(`${p}/dir/k${String(j).padStart(6, '0')}`).value(`v${j}`));
    await shared.client.if(`${p}/none`, 'Version', '>', -1).then(...ops).commit();
  }
  const store = new EtcdStore(at(shared.etcd.url));
  try {
    const writer = (async () => {
      for (let j = 0; j < 20; j++) await shared.client.put(`${p}/dir/late${j}`).value('after the snapshot');
    })();
    const snap = await store.snapshot([{ key: `${p}/dir`, recursive: true }, { key: `${p}/dir/k000007`, recursive: false }]);
    await writer;
    const keys = snap.kvs[0].map((kv) => kv.key);
    const late = keys.filter((k) => k.includes('/late'));
    // Whatever the revision, the snapshot holds exactly what etcd held then: every late key written before it.
    const lateBefore = (await shared.client.getAll().prefix(`${p}/dir/late`).exec()).kvs.filter((kv) => Number(kv.mod_revision) <= snap.revision).length;
    assert.equal(keys.length, n + lateBefore);
    assert.equal(late.length, lateBefore);
    assert.equal(new Set(keys).size, keys.length, 'no key twice across pages');
    assert.deepEqual(keys, [...keys].sort());
    assert.deepEqual(snap.kvs[1], [{ key: `${p}/dir/k000007`, value: 'v7' }]);
    // The JSON gateway reader (--onetime) returns exactly the same, pages and all.
    const gateway = new GatewayReader(at(shared.etcd.url));
    try {
      const specs = [{ key: `${p}/dir`, recursive: true }, { key: `${p}/dir/k000007`, recursive: false }, { key: `${p}/none`, recursive: false }];
      const [a, b] = [await store.snapshot(specs), await gateway.snapshot(specs)];
      assert.equal(b.revision, a.revision);
      assert.deepEqual(b.kvs, a.kvs);
      assert.equal(b.kvs[0].length, n + 20);
    } finally {
      gateway.close();
    }
  } finally {
    store.close();
  }
});

test('the gateway reader carries odd bytes and empty values, and reads at the snapshot revision', async () => {
  const p = uniquePrefix('gwodd');
  await shared.client.put(`${p}/d/empty`).value('');
  await shared.client.put(`${p}/d/bin`).value(Buffer.from([0x66, 0xff, 0x00, 0x6f]));
  await shared.client.put(`${p}/d/nl`).value('a\nb');
  const gateway = new GatewayReader(at(shared.etcd.url));
  const store = new EtcdStore(at(shared.etcd.url));
  try {
    const specs = [{ key: `${p}/d`, recursive: true }];
    const [a, b] = [await gateway.snapshot(specs), await store.snapshot(specs)];
    assert.deepEqual(a, b);
    assert.deepEqual(a.kvs[0].map((kv) => kv.value), ['f\uFFFD\u0000o', '', 'a\nb']);
  } finally {
    gateway.close();
    store.close();
  }
});

test('without the JSON gateway, the onetime reader falls back to gRPC', async () => {
  const own = await EtcdServer.start(['--enable-grpc-gateway=false']);
  const c = own.client();
  const gateway = new GatewayReader(at(own.url));
  try {
    await c.put('/fb/k').value('v');
    assert.equal(gateway.transport, 'json');
    const snap = await gateway.snapshot([{ key: '/fb', recursive: true }]);
    assert.deepEqual(snap.kvs, [[{ key: '/fb/k', value: 'v' }]]);
    assert.equal(gateway.transport, 'grpc');
  } finally {
    gateway.close();
    c.close();
    await own.stop();
  }
});

test('the gateway reader names the endpoint when etcd is not there', async () => {
  const port = await (await import('../support/etcd')).freePort();
  const gateway = new GatewayReader(at(`http://127.0.0.1:${port}`));
  try {
    await assert.rejects(gateway.snapshot([{ key: '/x', recursive: false }]), new RegExp(`etcd read on http://127\\.0\\.0\\.1:${port}: unreachable: .*ECONNREFUSED`));
  } finally {
    gateway.close();
  }
});

test('a watch whose creation is never answered is given up, and a fresh client works afterwards', async () => {
  const proxy = await TcpProxy.start(shared.etcd.clientPort);
  const store = new EtcdStore(at(proxy.url), { watchCreateTimeoutMs: 500, callTimeoutMs: 2000 });
  const specs = [{ key: uniquePrefix('create'), recursive: true }];
  try {
    const snap = await store.snapshot(specs);
    proxy.freeze();
    const started = Date.now();
    await assert.rejects(
      store.watch(specs, snap.revision + 1, { onEvents: () => undefined, onBroken: () => undefined }),
      /watch was not created within 500 ms/,
    );
    assert.ok(Date.now() - started < 10_000);
    proxy.cut();
    const again = await store.snapshot(specs);
    const h = await store.watch(specs, again.revision + 1, { onEvents: () => undefined, onBroken: () => undefined });
    await h.cancel();
  } finally {
    store.close();
    await proxy.stop();
  }
});

test('a link cut in the middle of a replay of more than 1,000 revisions breaks the watch; no event is skipped', async () => {
  const p = uniquePrefix('replay');
  const proxy = await TcpProxy.start(shared.etcd.clientPort);
  const store = new EtcdStore(at(proxy.url));
  const specs = [{ key: `${p}/r`, recursive: true }];
  const from = (await store.snapshot(specs)).revision + 1;
  const N = 2500;
  for (let i = 0; i < N; i += 100) {
    const ops = [];
    for (let j = i; j < i + 100; j++) ops.push(shared.client.put(`${p}/r/k${j}`).value(String(j)));
    // One revision per put: etcd replays them one by one, in batches.
    for (const op of ops) await op;
  }
  const got: number[] = [];
  let broken: Error | null = null;
  const h = await store.watch(specs, from, {
    onEvents: (events) => {
      if (broken) return;
      for (const e of events) got.push(e.revision);
      if (got.length > 0 && proxy.connections > 0) proxy.cut(); // cut as soon as the replay has begun
    },
    onBroken: (err) => (broken = err),
  });
  try {
    await waitFor(() => broken, 'the watch to report the cut');
    assert.ok(got.length < N, `the cut landed after the whole replay (${got.length} events); the test proved nothing`);
    // Whatever arrived before the cut is a gap-free run from the start revision.
    got.forEach((rev, i) => assert.equal(rev, from + i));
  } finally {
    await h.cancel();
    store.close();
    await proxy.stop();
  }
});

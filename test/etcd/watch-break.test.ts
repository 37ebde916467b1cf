/**
 * A watch over many ranges creates its watchers one by one. A break while they are being created must still
 * leave no watcher behind on etcd once the watch is cancelled.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EtcdStore } from '../../src/etcd/client';
import { at, EtcdServer } from '../support/etcd';
import { TcpProxy } from '../support/proxy';
import { waitFor } from '../support/util';

test('a link cut while the watchers are being created: once cancelled, no watcher is left on etcd', async () => {
  const etcd = await EtcdServer.start();
  const client = etcd.client();
  const proxy = await TcpProxy.start(etcd.clientPort);
  const store = new EtcdStore(at(proxy.url));
  try {
    // Twelve ranges that do not touch (`/w/k-00` ends at `/w/k-000`, before `/w/k-01`): twelve watchers,
    // created one after the other.
    const specs = Array.from({ length: 12 }, (_, i) => ({ key: `/w/k-${String(i).padStart(2, '0')}`, recursive: true }));
    const from = (await store.snapshot(specs)).revision + 1;
    // The first watcher has a replay waiting: etcd sends it on its next sync, while the others are being created.
    await client.put('/w/k-00/x').value('1');
    // A long link: each creation is a round trip of 80 ms or more, so the twelve take about a second.
    proxy.slow(40);
    let returned = false;
    let brokenFirst: boolean | null = null;
    const pending = store.watch(specs, from, {
      onEvents: () => proxy.cut(),
      onBroken: () => (brokenFirst ??= !returned),
    });
    const h = await pending;
    returned = true;
    await waitFor(() => brokenFirst !== null, 'the cut to break the watch');
    assert.equal(brokenFirst, true, 'the break came after every watcher was created: the test proved nothing');
    proxy.slow(0);
    await h.cancel();
    // etcd drops the watchers of the cut stream at once; any created on the new stream must be cancelled.
    await waitFor(async () => (await etcd.metric('etcd_debugging_mvcc_watcher_total')) === 0, 'no watcher left on etcd');
  } finally {
    store.close();
    client.close();
    await proxy.stop();
    await etcd.stop();
  }
});

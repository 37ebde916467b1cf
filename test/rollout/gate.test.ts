/**
 * A later wave's gate (src/rollout/gate.ts) against a real etcd, through a TCP proxy, with its safety re-read
 * off: the watch alone must bring every record written after it started, through a cut link and through the
 * store rebuilding its client under the watch (a failed read elsewhere), the suspected causes of the gates that
 * missed a record at 100 agents.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { InputSink } from '../../src/agent/ports';
import { EtcdStore } from '../../src/etcd/client';
import { snapshotAt } from '../../src/rollout/etcd';
import { RolloutGate } from '../../src/rollout/gate';
import { rolloutKey, type RolloutRecord } from '../../src/rollout/record';
import { at, sharedEtcd, uniquePrefix } from '../support/etcd';
import { fakeTarget, memoryLogger } from '../support/fake-target';
import { TcpProxy } from '../support/proxy';
import { waitFor } from '../support/util';

const shared = sharedEtcd();

/** A sink that notes what the gate gives: the revisions it let through, and why it waits. */
function recordingSink(): InputSink & { proven: number[]; waits: Array<string | undefined> } {
  const proven: number[] = [];
  const waits: Array<string | undefined> = [];
  return {
    proven,
    waits,
    provide: () => undefined,
    unavailable: () => undefined,
    refresh: () => undefined,
    loadProven: (_kvs, revision) => void proven.push(revision),
    waiting: (message) => void waits.push(message),
  };
}

test('a gate hears, by its watch alone, each record written after it watched: through a cut link and a rebuilt client', async () => {
  const p = uniquePrefix('gate');
  const proxy = await TcpProxy.start(shared.etcd.clientPort);
  const store = new EtcdStore(at(proxy.url), { callTimeoutMs: 1000 });
  const stop = new AbortController();
  const { log, lines } = memoryLogger();
  try {
    const target = fakeTarget('app', { key: `${p}/app`, keys: [{ key: `${p}/app`, recursive: true, local: `${p}/app` }], rollout: { bakeMs: 0, minhosts: 1 } });
    const rc = { wave: 1, prefix: `${p}-fleet`, store, readAt: async (specs: Parameters<typeof snapshotAt>[1], revision: number) => snapshotAt(await store.currentClient(), specs, revision) };
    const sink = recordingSink();
    new RolloutGate(target, rc, log, 0).follow(sink, stop.signal);
    await waitFor(() => sink.waits.includes('waiting for wave 0 to prove a revision'), 'the gate to wait');
    // It has read the range (it says why it waits) but the watch may still be on its way: a first record, then
    // the rest once that one came through.
    const prove = async (value: string): Promise<number> => {
      const rev = Number((await shared.client.put(`${p}/app/k`).value(value)).header.revision);
      const record: RolloutRecord = { target: 'app', bakeMs: 0, minhosts: 1, waves: { '0': { hosts: 1, reached: rev, proven: { revision: rev, since: new Date().toISOString() } } } };
      await shared.client.put(rolloutKey(rc.prefix, 'app')).value(JSON.stringify(record));
      return rev;
    };
    let rev = await prove('1');
    await waitFor(() => sink.proven.includes(rev), 'the gate to let revision 1 through', 30_000);

    // The link is cut under the watch: the gate watches again and reads the range.
    proxy.cut();
    rev = await prove('2');
    await waitFor(() => sink.proven.includes(rev), 'the gate to let revision 2 through after a cut', 30_000);

    // A read elsewhere on the store times out (the link slowed past --etcd-timeout): the store rebuilds its
    // client, and the gate's watch stays on the old one.
    proxy.slow(1500);
    await assert.rejects(store.snapshot([{ key: `${p}/other`, recursive: true }]));
    proxy.slow(0);
    rev = await prove('3');
    await waitFor(() => sink.proven.includes(rev), 'the gate to let revision 3 through after the store rebuilt its client', 60_000);
    rev = await prove('4');
    await waitFor(() => sink.proven.includes(rev), 'the gate to let revision 4 through', 60_000);
    assert.deepEqual(lines.filter((l) => /did not tell/.test(l.msg)), [], 'no re-read (they are off)');
  } finally {
    stop.abort();
    store.close();
    await proxy.stop();
  }
});

/**
 * gRPC keepalive against etcd 3.4's default enforcement (--grpc-keepalive-min-time 5s, no pings without a
 * stream), and grpc-js's own messages routed to our logger rather than written raw to stderr.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { EtcdStore } from '../../src/etcd/client';
import { EtcdServer, at } from '../support/etcd';
import { sleep } from '../support/util';

test('an idle connection, before and after an etcd restart, is never refused for excess pings', async () => {
  const etcd = await EtcdServer.start();
  const warnings: string[] = [];
  // The shortest keepalive etcd's default enforcement accepts, so that three strikes would come within 20 s.
  const store = new EtcdStore(at(etcd.url), { keepaliveMs: 5000, callTimeoutMs: 2000, warn: (m) => warnings.push(m) });
  const spec = [{ key: '/keepalive', recursive: true }];
  try {
    await store.snapshot(spec);
    await etcd.restart();
    // The first read after the restart may meet the old connection; the next one reconnects.
    for (let i = 0; ; i++) {
      try {
        await store.snapshot(spec);
        break;
      } catch (err) {
        if (i > 50) throw err;
        await sleep(200);
      }
    }
    // No call open for 20 s: a client that pings anyway gets GOAWAY too_many_pings after its third ping.
    await sleep(20_000);
    const snap = await store.snapshot(spec);
    assert.ok(snap.revision > 0);
    assert.deepEqual(warnings.filter((w) => /ping|GOAWAY/i.test(w)), [], warnings.join('\n'));
  } finally {
    store.close();
    await etcd.stop();
  }
});

test("grpc-js's messages reach the agent's logger, not stderr", () => {
  const warnings: string[] = [];
  new EtcdStore(at('http://127.0.0.1:1'), { warn: (m) => warnings.push(m) }).close();
  // grpc-js's internal logging module, from the copy etcd3 loads (as src/etcd/grpc-log.ts resolves it).
  const grpcMain = require.resolve('@grpc/grpc-js', { paths: [path.dirname(require.resolve('etcd3'))] });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const logging = require(path.join(path.dirname(grpcMain), 'logging')) as { log(severity: number, ...args: unknown[]): void };
  logging.log(2, 'Connection to dns:x rejected by server because of excess pings.');
  assert.deepEqual(warnings, ['grpc: Connection to dns:x rejected by server because of excess pings.']);
});

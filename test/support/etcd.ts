/** The tests' etcd: the same throwaway server the demo uses. */
import { after, before } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { EtcdServer } from '../../scripts/etcd-server';
import { staticEndpoints } from '../../src/etcd/endpoints';
import type { ConnectionSettings } from '../../src/etcd/settings';

export { EtcdCluster, EtcdServer, freePort } from '../../scripts/etcd-server';

let counter = 0;
/** A key prefix of the test's own, so tests sharing one etcd never see each other's keys. */
export function uniquePrefix(name: string): string {
  counter += 1;
  return `/t-${process.pid}-${counter}-${name.replace(/[^A-Za-z0-9]/g, '')}`;
}

/**
 * One etcd for the whole test file: started before its first test, stopped after its last, with a client.
 * Read `shared.etcd` and `shared.client` inside tests.
 */
export function sharedEtcd(): { readonly etcd: EtcdServer; readonly client: Etcd3 } {
  let etcd: EtcdServer | undefined;
  let client: Etcd3 | undefined;
  before(async () => {
    etcd = await EtcdServer.start();
    client = etcd.client();
  });
  after(async () => {
    client?.close();
    await etcd?.stop();
  });
  return {
    get etcd() {
      if (!etcd) throw new Error('sharedEtcd: used outside a test');
      return etcd;
    },
    get client() {
      if (!client) throw new Error('sharedEtcd: used outside a test');
      return client;
    },
  };
}

/**
 * The sum of a labelled metric of a plain-HTTP etcd over the series whose labels include every `labels` pair,
 * e.g. `grpc_server_started_total` with `{ grpc_method: 'Watch' }`; 0 when no series matches yet.
 */
export async function metricSum(etcd: EtcdServer, name: string, labels: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`${etcd.url}/metrics`);
  const body = await res.text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return body
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .filter((l) => wanted.every((w) => l.slice(0, l.lastIndexOf(' ')).includes(w)))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** Connection settings for plain endpoints, in order. */
export function at(...urls: string[]): ConnectionSettings {
  return { source: staticEndpoints(urls) };
}

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

/** Connection settings for plain endpoints, in order. */
export function at(...urls: string[]): ConnectionSettings {
  return { source: staticEndpoints(urls) };
}

/** The watching agent's etcd store, loaded only once conf.d is valid: a bad config fails fast without the gRPC stack. */
import type { EtcdStore } from '../etcd/client';
import type { ConnectionSettings } from '../etcd/settings';
import type { Logger } from '../log';

export async function connectStore(settings: ConnectionSettings, log: Logger): Promise<EtcdStore> {
  const { EtcdStore } = await import('../etcd/client');
  return new EtcdStore(settings, { warn: (msg) => log.warn(msg) });
}

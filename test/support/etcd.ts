/** The tests' etcd: the same throwaway server the demo uses. */
export { EtcdServer, freePort } from '../../scripts/etcd-server';

let counter = 0;
/** A key prefix of the test's own, so tests sharing one etcd never see each other's keys. */
export function uniquePrefix(name: string): string {
  counter += 1;
  return `/t-${process.pid}-${counter}-${name.replace(/[^A-Za-z0-9]/g, '')}`;
}

/**
 * etcd members from DNS SRV records, as etcd's own discovery names them: `_etcd-client-ssl._tcp.<domain>`
 * with TLS, else `_etcd-client._tcp.<domain>`; a name that begins with `_` is taken as the full record name.
 * Records are ordered as RFC 2782 says (priority, then a weighted random draw), and each target's A and
 * AAAA records become endpoints in that order.
 */
import net from 'node:net';
import type { SrvAnswer } from 'dns-packet';
import { EtcdError, errorMessage } from '../../errors';
import type { Endpoint, EndpointSource } from '../endpoints';
import { DnsClient, NoSuchName, type Nameserver } from './dns';

export interface SrvRecord {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

/** The SRV record name to ask for `name`. */
export function srvName(name: string, ssl: boolean): string {
  const bare = name.replace(/\.$/, '');
  if (bare.startsWith('_')) return bare;
  return `${ssl ? '_etcd-client-ssl' : '_etcd-client'}._tcp.${bare}`;
}

/**
 * RFC 2782's order: lowest priority first; within a priority, repeatedly draw one record with probability
 * proportional to its weight (weight-0 records are placed first, so they are chosen only rarely, unless all
 * weights are 0). A target of "." means "no service here" and is dropped. `random` returns [0, 1).
 */
export function orderSrv(records: readonly SrvRecord[], random: () => number = Math.random): SrvRecord[] {
  const byPriority = new Map<number, SrvRecord[]>();
  for (const r of records) {
    if (r.target === '.' || r.target === '') continue;
    const group = byPriority.get(r.priority);
    if (group) group.push(r);
    else byPriority.set(r.priority, [r]);
  }
  const out: SrvRecord[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    const left = [...(byPriority.get(priority) ?? [])].sort((a, b) => (a.weight === 0 ? 0 : 1) - (b.weight === 0 ? 0 : 1));
    while (left.length > 0) {
      const total = left.reduce((sum, r) => sum + r.weight, 0);
      // A uniform number in [0, total]; the first record whose running sum reaches it is chosen.
      const pick = Math.floor(random() * (total + 1));
      let running = 0;
      let chosen = left.length - 1;
      for (let i = 0; i < left.length; i++) {
        running += left[i].weight;
        if (running >= pick) {
          chosen = i;
          break;
        }
      }
      out.push(left.splice(chosen, 1)[0]);
    }
  }
  return out;
}

export interface SrvOptions {
  /** The domain or full record name given to --srv. */
  name: string;
  ssl: boolean;
  nameservers: readonly Nameserver[];
  timeoutMs?: number;
  /** Reports targets that could not be resolved while others could. */
  warn?: (message: string) => void;
}

export function srvEndpoints(opts: SrvOptions): EndpointSource {
  const record = srvName(opts.name, opts.ssl);
  const dns = new DnsClient(opts.nameservers, opts.timeoutMs);
  const scheme = opts.ssl ? 'https' : 'http';
  const fail = (msg: string, cause?: unknown): EtcdError => new EtcdError(`DNS SRV ${record}: ${msg}`, { cause, kind: 'dns' });

  const addresses = async (host: string): Promise<string[]> => {
    if (net.isIP(host)) return [host];
    const [v4, v6] = await Promise.allSettled([dns.query(host, 'A'), dns.query(host, 'AAAA')]);
    const found: string[] = [];
    for (const r of [v4, v6]) if (r.status === 'fulfilled') for (const a of r.value) if (a.type === 'A' || a.type === 'AAAA') found.push(a.data);
    if (found.length === 0) {
      const why = [v4, v6].map((r) => (r.status === 'rejected' ? errorMessage(r.reason) : 'no record')).join('; ');
      throw new Error(`${host}: no address (${why})`);
    }
    return found;
  };

  return {
    describe: `DNS SRV ${record}`,
    dynamic: true,
    async resolve(): Promise<Endpoint[]> {
      let answers: SrvAnswer[];
      try {
        answers = (await dns.query(record, 'SRV')) as SrvAnswer[];
      } catch (err) {
        throw fail(err instanceof NoSuchName ? 'the name does not exist (NXDOMAIN)' : errorMessage(err), err);
      }
      const records = orderSrv(
        answers.map((a) => ({
          priority: a.data.priority ?? 0,
          weight: a.data.weight ?? 0,
          port: a.data.port,
          target: a.data.target.replace(/\.$/, ''),
        })),
      );
      if (records.length === 0) throw fail('no SRV records');
      const resolved = await Promise.allSettled(records.map((r) => addresses(r.target)));
      const endpoints: Endpoint[] = [];
      const problems: string[] = [];
      resolved.forEach((res, i) => {
        const r = records[i];
        if (res.status === 'rejected') {
          problems.push(errorMessage(res.reason));
          return;
        }
        for (const ip of res.value) {
          const host = net.isIPv6(ip) ? `[${ip}]` : ip;
          endpoints.push({ url: `${scheme}://${host}:${r.port}`, ...(net.isIP(r.target) ? {} : { serverName: r.target }) });
        }
      });
      if (endpoints.length === 0) throw fail(`no target could be resolved: ${problems.join('; ')}`);
      if (problems.length > 0) opts.warn?.(`DNS SRV ${record}: skipped targets: ${problems.join('; ')}`);
      return endpoints;
    },
  };
}

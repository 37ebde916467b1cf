/**
 * DNS for templates (confd's lookupIP, lookupIPV4, lookupIPV6 and lookupSRV; the native lookupIP and lookupSRV)
 * without I/O inside a render, which stays synchronous. Each render of a target gets a fresh table of answers
 * (confd resolves at every render: nothing is cached from one render to the next). A template asking for a name
 * the table lacks throws a private marker; renderTarget (target.ts) resolves that name, outside the template,
 * and renders again from the start, up to MAX_LOOKUPS names a render.
 */
import dns from 'node:dns';
import net from 'node:net';

/** How many names one render may resolve; a template asking for more fails (a loop over etcd values, say). */
export const MAX_LOOKUPS = 32;

/** One SRV record as the resolver gives it: `name` is the target host, without a trailing dot. */
export interface SrvAnswer {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/**
 * Where names are resolved: the OS boundary, which fast tests replace. Both give [] when the name does not
 * exist or has no record of the kind; they reject when no answer came (a timeout, a refused or failed server).
 */
export interface Resolver {
  /** Every address of `name`, IPv4 and IPv6, in any order. */
  ip(name: string, signal: AbortSignal): Promise<string[]>;
  /** The SRV records of the full record name (`_etcd-client._tcp.example.com`). */
  srv(name: string, signal: AbortSignal): Promise<SrvAnswer[]>;
}

export type Question = { kind: 'ip' | 'srv'; name: string };

/** Where the template local functions find this render's table: a key of the render's extras that no name can clash with. */
export const LOOKUPS = Symbol('reconfig.lookups');

/** The marker a template throws for a name its render has not resolved yet; only renderTarget catches it. */
class LookupNeeded extends Error {
  /** Where the template asked, once compileTemplate has seen it go by. */
  where?: { template: string; line?: number };
  constructor(readonly question: Question) {
    super(`lookup${question.kind === 'ip' ? 'IP' : 'SRV'} ${JSON.stringify(question.name)} is not resolved yet`);
  }
}

export type { LookupNeeded };

/** The question a caught error asks, if it is the marker; undefined for any other error. */
export function lookupNeeded(err: unknown): LookupNeeded | undefined {
  return err instanceof LookupNeeded ? err : undefined;
}

/** Go's net.IP.String of an address as the OS gives it: an IPv4-mapped IPv6 address prints as IPv4. */
function goIP(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1] : address;
}

/** A DNS name as it may land in a file: letters, digits, `_`, `-`, dots; "" for the root (`.`, "no service"). */
const HOSTNAME = /^(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?)?$/;

/** One render's answers, by question. Reading a name it lacks throws the marker. */
export class Lookups {
  private readonly ips = new Map<string, string[]>();
  private readonly srvs = new Map<string, SrvAnswer[]>();

  /** How many names this render has resolved. */
  get size(): number {
    return this.ips.size + this.srvs.size;
  }

  /** The addresses of `name`, sorted as strings (confd's sort.Strings); a copy, which the template may change. */
  ip(name: string): string[] {
    const a = this.ips.get(name);
    if (!a) throw new LookupNeeded({ kind: 'ip', name });
    return [...a];
  }

  /** The SRV records of the record name `name`, in the resolver's order. */
  srv(name: string): SrvAnswer[] {
    const a = this.srvs.get(name);
    if (!a) throw new LookupNeeded({ kind: 'srv', name });
    return a.map((r) => ({ ...r }));
  }

  /**
   * Resolves `q` and keeps the answer. `deadline` aborts when the render's time for DNS (`timeoutMs`) is up,
   * `signal` when the agent stops. Throws an Error naming the question when no answer came.
   */
  async resolve(q: Question, resolver: Resolver, limits: { deadline: AbortSignal; timeoutMs: number; signal?: AbortSignal }): Promise<void> {
    const what = `lookup${q.kind === 'ip' ? 'IP' : 'SRV'} ${JSON.stringify(q.name)}`;
    const { deadline, signal } = limits;
    const both = signal ? AbortSignal.any([signal, deadline]) : deadline;
    const answer = async <T>(ask: () => Promise<T>): Promise<T> => {
      try {
        return await settle(ask(), both);
      } catch (err) {
        if (signal?.aborted) throw new Error(`${what}: stopped`, { cause: err });
        if (deadline.aborted) throw new Error(`${what}: no answer within ${limits.timeoutMs} ms (the target's timeout, for all its lookups)`, { cause: err });
        throw new Error(`${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
      }
    };
    if (q.kind === 'ip') {
      const got = q.name === '' ? [] : await answer(() => resolver.ip(q.name, both));
      this.ips.set(q.name, got.map(goIP).sort());
      return;
    }
    const got = await answer(() => resolver.srv(q.name, both));
    const bad = got.find((r) => !HOSTNAME.test(r.name));
    // A DNS answer reaches the file as it is: a target name with a space or a newline in it is refused, not written.
    if (bad) throw new Error(`${what}: refused an SRV target that is not a host name: ${JSON.stringify(bad.name)}`);
    this.srvs.set(q.name, got.map((r) => ({ name: r.name, port: r.port, priority: r.priority, weight: r.weight })));
  }
}

/** `p`, or a rejection as soon as `signal` aborts (a resolver that ignores the signal is not waited for). */
function settle<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted', { cause: signal.reason }));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    void p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** What "this name has no such record" looks like from getaddrinfo and from c-ares. */
const NOT_FOUND = new Set([dns.NOTFOUND, dns.NODATA, 'ENOTFOUND', 'ENODATA']);

function absent(err: unknown): boolean {
  return NOT_FOUND.has((err as NodeJS.ErrnoException).code ?? '');
}

/**
 * The resolver of the machine: lookupIP through getaddrinfo (dns.promises.lookup, so /etc/hosts counts, as it
 * does for Go's net.LookupIP), SRV through c-ares with the servers of /etc/resolv.conf. Neither blocks the event
 * loop (getaddrinfo runs on libuv's thread pool). With `servers` (host[:port]), both ask those servers alone.
 */
export function systemResolver(opts: { servers?: readonly string[] } = {}): Resolver {
  const resolverFor = (signal: AbortSignal): dns.promises.Resolver => {
    const r = new dns.promises.Resolver();
    if (opts.servers) r.setServers([...opts.servers]);
    signal.addEventListener('abort', () => r.cancel(), { once: true });
    return r;
  };
  return {
    async ip(name, signal) {
      if (!opts.servers || net.isIP(name)) {
        try {
          return (await dns.promises.lookup(name, { all: true })).map((a) => a.address);
        } catch (err) {
          if (absent(err)) return [];
          throw err;
        }
      }
      const r = resolverFor(signal);
      const family = async (p: Promise<string[]>): Promise<string[]> => {
        try {
          return await p;
        } catch (err) {
          if (absent(err)) return [];
          throw err;
        }
      };
      const [v4, v6] = await Promise.all([family(r.resolve4(name)), family(r.resolve6(name))]);
      return [...v4, ...v6];
    },
    async srv(name, signal) {
      try {
        return await resolverFor(signal).resolveSrv(name);
      } catch (err) {
        if (absent(err)) return [];
        throw err;
      }
    },
  };
}

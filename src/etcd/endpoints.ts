/**
 * Where etcd is: a fixed list of member URLs, or a list found again when every member has failed (DNS SRV).
 * Each endpoint is one member; the store talks to one at a time and moves down the list when it fails.
 */

export interface Endpoint {
  /** `http(s)://address:port`; the address may be an IP found through DNS. */
  url: string;
  /** The name its TLS certificate must carry, when that is not the URL's host (an SRV target's name). */
  serverName?: string;
}

export interface EndpointSource {
  /** For messages: `--endpoints`, or the SRV name that was queried. */
  readonly describe: string;
  /** True when resolve() may give a different list later, so it is worth asking again. */
  readonly dynamic: boolean;
  /** The members in order of preference; never empty (an empty result throws, naming what was asked). */
  resolve(): Promise<Endpoint[]>;
}

export function endpointLabel(e: Endpoint): string {
  return e.serverName ? `${e.url} (${e.serverName})` : e.url;
}

export function staticEndpoints(urls: readonly string[], describe = '--endpoints'): EndpointSource {
  const list = urls.map((url) => ({ url }));
  return { describe, dynamic: false, resolve: () => Promise.resolve(list) };
}

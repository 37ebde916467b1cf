/**
 * A Unix-socket proxy in front of a Docker Engine API (podman's) that passes every byte through unchanged and
 * notes which request each connection carries last, so that a test can count the event streams a client holds
 * open (`GET .../events`) and how many it has asked for in all.
 */
import { rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { tempDir } from './util';

/** A request line at the start of a chunk or after the previous request's blank line (requests here have no body). */
const REQUEST_LINE = /(?:^|\r\n\r\n)[A-Z]+ (\S+) HTTP\/1\.[01]\r\n/g;

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  /** The path of the last request seen on this connection. */
  last: string;
}

export class ApiProxy {
  private readonly server: net.Server;
  private readonly pairs = new Set<Pair>();
  /** How many times each kind of request was seen, by path without its query. */
  private readonly seen = new Map<string, number>();
  readonly socket: string;

  private constructor(private readonly upstreamSocket: string) {
    this.socket = path.join(tempDir('reconfig-apiproxy-'), 'api.sock');
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.upstreamSocket);
      const pair: Pair = { client, upstream, last: '' };
      this.pairs.add(pair);
      client.on('data', (chunk: Buffer) => {
        for (const m of chunk.toString('latin1').matchAll(REQUEST_LINE)) {
          pair.last = m[1];
          const kind = apiPath(m[1]);
          this.seen.set(kind, (this.seen.get(kind) ?? 0) + 1);
        }
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => client.write(chunk));
      const close = (): void => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
  }

  static async start(upstreamSocket: string): Promise<ApiProxy> {
    const p = new ApiProxy(upstreamSocket);
    await new Promise<void>((resolve, reject) => {
      p.server.once('error', reject);
      p.server.listen(p.socket, resolve);
    });
    return p;
  }

  /** Requests seen so far whose path (version prefix and query dropped) is `kind`, e.g. "/events". */
  requests(kind: string): number {
    return this.seen.get(kind) ?? 0;
  }

  /** Connections open now whose last request was for `kind`: for "/events", the event streams held open. */
  open(kind: string): number {
    let n = 0;
    for (const p of this.pairs) if (apiPath(p.last) === kind) n += 1;
    return n;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    this.pairs.clear();
    await closed;
    rmSync(this.socket, { force: true });
  }
}

/** `/v1.41/events?filters=...` -> `/events`. */
function apiPath(url: string): string {
  return url.replace(/\?.*$/, '').replace(/^\/v[0-9.]+(?=\/)/, '');
}

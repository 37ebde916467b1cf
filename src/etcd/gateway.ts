/**
 * A one-shot Reader over etcd's JSON gateway (`/v3/kv/txn` on the client port): the same transactions and pages
 * as the gRPC client, without loading gRPC and protobuf, which cost ~0.2 s of a --onetime run's start here.
 * If the gateway is switched off (`--enable-grpc-gateway=false`), it falls back to the gRPC client.
 */
import http from 'node:http';
import { EtcdError, errorMessage } from '../errors';
import { PAGE, readSnapshot, type Page } from './snapshot';
import type { KeySpec, Reader, Snapshot } from './store';

interface JsonKv {
  key: string;
  value?: string;
}
interface JsonRange {
  kvs?: JsonKv[];
  more?: boolean;
}

/** The gateway answered 404: it is not enabled on this etcd. */
class GatewayMissing extends Error {}

export class GatewayReader implements Reader {
  readonly endpoints: readonly string[];
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  private readonly timeoutMs: number;
  private fallback: Reader | null = null;

  constructor(opts: { endpoints: string[]; callTimeoutMs?: number }) {
    this.endpoints = opts.endpoints;
    this.timeoutMs = opts.callTimeoutMs ?? 5000;
  }

  /** Which transport the reads went through: the gateway, or gRPC after falling back. */
  get transport(): 'json' | 'grpc' {
    return this.fallback ? 'grpc' : 'json';
  }

  async snapshot(specs: readonly KeySpec[]): Promise<Snapshot> {
    if (this.fallback) return this.fallback.snapshot(specs);
    const endpoint = this.endpoints[0];
    try {
      return await readSnapshot(specs, {
        txnRanges: async (ranges, revision) => {
          const res = await this.post<{ header: { revision: string }; responses?: Array<{ response_range: JsonRange }> }>(
            endpoint,
            '/v3/kv/txn',
            { success: ranges.map((r) => ({ request_range: rangeRequest(r.start, r.end, revision) })) },
          );
          return { revision: Number(res.header.revision), pages: (res.responses ?? []).map((r) => page(r.response_range)) };
        },
        range: async (start, end, revision) => page(await this.post<JsonRange>(endpoint, '/v3/kv/range', rangeRequest(start, end, revision))),
      });
    } catch (err) {
      if (!(err instanceof GatewayMissing)) throw err;
      const { EtcdStore } = await import('./client');
      this.fallback = new EtcdStore({ endpoints: [...this.endpoints], callTimeoutMs: this.timeoutMs });
      return this.fallback.snapshot(specs);
    }
  }

  private post<T>(endpoint: string, path: string, body: unknown): Promise<T> {
    const fail = (msg: string, cause?: unknown): EtcdError =>
      new EtcdError(`etcd read failed on ${endpoint}: ${msg}`, { cause });
    return new Promise<T>((resolve, reject) => {
      const req = http.request(
        new URL(path, endpoint),
        { method: 'POST', agent: this.agent, headers: { 'content-type': 'application/json' }, timeout: this.timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => reject(fail(err.message, err)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode === 404) return reject(new GatewayMissing(`no JSON gateway on ${endpoint}`));
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch (err) {
              return reject(fail(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`, err));
            }
            if (res.statusCode !== 200) {
              const e = json as { message?: string; error?: string };
              return reject(fail(e.message ?? e.error ?? `HTTP ${res.statusCode}`));
            }
            resolve(json as T);
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (err) => reject(fail(errorMessage(err), err)));
      req.end(JSON.stringify(body));
    });
  }

  close(): void {
    this.agent.destroy();
    this.fallback?.close();
  }
}

function rangeRequest(start: Buffer, end: Buffer, revision: number | undefined): Record<string, string> {
  const req: Record<string, string> = { key: start.toString('base64'), range_end: end.toString('base64'), limit: String(PAGE) };
  if (revision !== undefined) req.revision = String(revision);
  return req;
}

function page(r: JsonRange): Page {
  return {
    kvs: (r.kvs ?? []).map((kv) => ({ key: Buffer.from(kv.key, 'base64'), value: Buffer.from(kv.value ?? '', 'base64') })),
    more: r.more === true,
  };
}

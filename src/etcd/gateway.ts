/**
 * A one-shot Reader over etcd's JSON gateway (`/v3/kv/txn` on the client port): the same transactions and pages
 * as the gRPC client, without loading gRPC and protobuf, which cost ~0.2 s of a --onetime run's start here.
 * It speaks TLS with client certificates and password auth (a token from `/v3/auth/authenticate`), and tries
 * the members in order. If the gateway is switched off (`--enable-grpc-gateway=false`), it falls back to gRPC.
 */
import { EtcdError } from '../errors';
import { endpointLabel, type Endpoint } from './endpoints';
import { GatewayError, GatewayMissing, JsonHttp } from './json-http';
import { Members } from './members';
import type { ConnectionSettings } from './settings';
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
interface JsonTxn {
  header: { revision: string; cluster_id?: string };
  responses?: Array<{ response_range: JsonRange }>;
}

export class GatewayReader implements Reader {
  private readonly http: JsonHttp;
  private readonly members: Members;
  private readonly timeoutMs: number;
  private fallback: Reader | null = null;
  /** Auth tokens by endpoint URL. */
  private readonly tokens = new Map<string, string>();

  private readonly warn: ((message: string) => void) | undefined;

  constructor(
    private readonly settings: ConnectionSettings,
    opts: { callTimeoutMs?: number; warn?: (message: string) => void } = {},
  ) {
    this.timeoutMs = opts.callTimeoutMs ?? 5000;
    this.warn = opts.warn;
    this.members = new Members(settings.source, opts.warn);
    this.http = new JsonHttp(settings.tls, this.timeoutMs);
  }

  get endpoints(): readonly string[] {
    return this.members.labels;
  }

  /** Which transport the reads went through: the gateway, or gRPC after falling back. */
  get transport(): 'json' | 'grpc' {
    return this.fallback ? 'grpc' : 'json';
  }

  /** Reads from the first member that answers; a member that cannot be reached hands over to the next. */
  async snapshot(specs: readonly KeySpec[]): Promise<Snapshot> {
    if (this.fallback) return this.fallback.snapshot(specs);
    try {
      return await this.members.tryEach('read', (endpoint) => this.snapshotFrom(endpoint, specs), (err) => err instanceof GatewayMissing);
    } catch (err) {
      if (err instanceof GatewayMissing) return this.fallBack(specs);
      throw err;
    }
  }

  private async snapshotFrom(endpoint: Endpoint, specs: readonly KeySpec[]): Promise<Snapshot> {
    try {
      return await this.readFrom(endpoint, specs);
    } catch (err) {
      // A token that expired between authenticate and read: one fresh token, same member.
      if (!(err instanceof GatewayError && /invalid auth token/i.test(err.message))) throw err;
      this.tokens.delete(endpoint.url);
      return this.readFrom(endpoint, specs);
    }
  }

  private async readFrom(endpoint: Endpoint, specs: readonly KeySpec[]): Promise<Snapshot> {
    const headers = await this.authHeaders(endpoint);
    const post = <T>(path: string, body: unknown): Promise<T> => this.http.post<T>(endpoint, path, body, headers);
    return readSnapshot(specs, {
      txnRanges: async (ranges, revision) => {
        const res = await post<JsonTxn>('/v3/kv/txn', {
          success: ranges.map((r) => ({ request_range: rangeRequest(r.start, r.end, revision) })),
        });
        const pages = (res.responses ?? []).map((r) => page(r.response_range));
        return { revision: Number(res.header.revision), cluster: res.header.cluster_id, pages };
      },
      range: async (start, end, revision) => page(await post<JsonRange>('/v3/kv/range', rangeRequest(start, end, revision))),
    });
  }

  private async authHeaders(endpoint: Endpoint): Promise<Record<string, string>> {
    const auth = this.settings.auth;
    if (!auth) return {};
    let token = this.tokens.get(endpoint.url);
    if (token === undefined) {
      const res = await this.http.post<{ token?: string }>(endpoint, '/v3/auth/authenticate', {
        name: auth.username,
        password: auth.password,
      });
      if (!res.token) throw new EtcdError(`etcd on ${endpointLabel(endpoint)} gave no auth token`, { kind: 'auth' });
      token = res.token;
      this.tokens.set(endpoint.url, token);
    }
    return { authorization: token };
  }

  private async fallBack(specs: readonly KeySpec[]): Promise<Snapshot> {
    const { EtcdStore } = await import('./client');
    this.fallback = new EtcdStore(this.settings, { callTimeoutMs: this.timeoutMs, warn: this.warn });
    return this.fallback.snapshot(specs);
  }

  close(): void {
    this.http.close();
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

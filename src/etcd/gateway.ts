/**
 * A one-shot Reader over etcd's JSON gateway (`/v3/kv/txn` on the client port): the same transactions and pages
 * as the gRPC client, without loading gRPC and protobuf, which cost ~0.2 s of a --onetime run's start here.
 * It speaks TLS with client certificates and password auth (a token from `/v3/auth/authenticate`), and tries
 * the members in order. If the gateway is switched off (`--enable-grpc-gateway=false`), it falls back to gRPC.
 *
 * One snapshot has one time budget (--etcd-timeout), every member and the fallback included, so that a member
 * that accepts TCP and never answers (a black hole) fails the read within it. The members not yet tried share
 * what is left evenly, so that a silent first member still leaves the next one time to answer. A round in which
 * a member said the cluster is between leaders is tried again while the budget lasts.
 */
import { EtcdError } from '../errors';
import { endpointLabel, type Endpoint } from './endpoints';
import { GatewayError, GatewayMissing, JsonHttp, type Deadline } from './json-http';
import { Members } from './members';
import { DEFAULT_ETCD_TIMEOUT_MS, formatMs, type ConnectionSettings } from './settings';
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
    opts: { warn?: (message: string) => void } = {},
  ) {
    this.timeoutMs = settings.timeoutMs ?? DEFAULT_ETCD_TIMEOUT_MS;
    this.warn = opts.warn;
    this.members = new Members(settings.source, opts.warn);
    this.http = new JsonHttp(settings.tls);
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
    if (this.fallback) return this.fallbackSnapshot(this.fallback, specs, Date.now() + this.timeoutMs);
    // The budget starts with the first member's try (after the endpoints are resolved).
    let budgetEnds = 0;
    let tried = 0;
    const attempt = (endpoint: Endpoint): Promise<Snapshot> => {
      const now = Date.now();
      if (tried === 0) budgetEnds = now + this.timeoutMs;
      const untried = Math.max(1, this.members.labels.length - tried);
      tried += 1;
      const share = Math.max(0, (budgetEnds - now) / untried);
      return this.snapshotFrom(endpoint, specs, now + share, share);
    };
    for (;;) {
      try {
        return await this.members.tryEach('read', attempt, (err) => err instanceof GatewayMissing);
      } catch (err) {
        if (err instanceof GatewayMissing) return this.fallBack(specs, budgetEnds);
        // A cluster electing a leader answers "leader changed" or "no leader" for a second or so: while the budget
        // lasts, another round (the members tried so far share nothing more: the next gets what is left).
        if (!duringElection(err) || Date.now() + ELECTION_PAUSE_MS >= budgetEnds) throw err;
        await new Promise((resolve) => setTimeout(resolve, ELECTION_PAUSE_MS));
      }
    }
  }

  /** One member's try: every call of it (authentication, the read, its pages) answered by `endsAt`. */
  private async snapshotFrom(endpoint: Endpoint, specs: readonly KeySpec[], endsAt: number, allowedMs: number): Promise<Snapshot> {
    const by = (what: string): Deadline => ({ at: endsAt, allowedMs, what });
    try {
      return await this.readFrom(endpoint, specs, by);
    } catch (err) {
      // A token that expired between authenticate and read: one fresh token, same member.
      if (!(err instanceof GatewayError && /invalid auth token/i.test(err.message))) throw err;
      this.tokens.delete(endpoint.url);
      return this.readFrom(endpoint, specs, by);
    }
  }

  private async readFrom(endpoint: Endpoint, specs: readonly KeySpec[], by: (what: string) => Deadline): Promise<Snapshot> {
    const headers = await this.authHeaders(endpoint, by('the authentication'));
    const post = <T>(path: string, body: unknown, what: string): Promise<T> => this.http.post<T>(endpoint, path, body, by(what), headers);
    return readSnapshot(specs, {
      txnRanges: async (ranges, revision) => {
        const res = await post<JsonTxn>(
          '/v3/kv/txn',
          { success: ranges.map((r) => ({ request_range: rangeRequest(r.start, r.end, revision) })) },
          'the range read',
        );
        const pages = (res.responses ?? []).map((r) => page(r.response_range));
        return { revision: Number(res.header.revision), cluster: res.header.cluster_id, pages };
      },
      range: async (start, end, revision) =>
        page(await post<JsonRange>('/v3/kv/range', rangeRequest(start, end, revision), 'the next page of the range read')),
    });
  }

  private async authHeaders(endpoint: Endpoint, deadline: Deadline): Promise<Record<string, string>> {
    const auth = this.settings.auth;
    if (!auth) return {};
    let token = this.tokens.get(endpoint.url);
    if (token === undefined) {
      const res = await this.http.post<{ token?: string }>(endpoint, '/v3/auth/authenticate', {
        name: auth.username,
        password: auth.password,
      }, deadline);
      if (!res.token) throw new EtcdError(`etcd on ${endpointLabel(endpoint)} gave no auth token`, { kind: 'auth' });
      token = res.token;
      this.tokens.set(endpoint.url, token);
    }
    return { authorization: token };
  }

  private async fallBack(specs: readonly KeySpec[], budgetEnds: number): Promise<Snapshot> {
    const { EtcdStore } = await import('./client');
    // Each call's own deadline a second past the budget: the budget's message, which says what was waited for, wins.
    this.fallback = new EtcdStore(this.settings, { warn: this.warn, callTimeoutMs: this.timeoutMs + 1000 });
    return this.fallbackSnapshot(this.fallback, specs, budgetEnds);
  }

  /** A snapshot over gRPC within what is left of the budget; past it, the client is dropped (the next starts afresh). */
  private async fallbackSnapshot(fallback: Reader, specs: readonly KeySpec[], budgetEnds: number): Promise<Snapshot> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        fallback.close();
        const where = fallback.endpoints.join(', ');
        reject(new EtcdError(`etcd ${where} did not answer the range read (over gRPC) within ${formatMs(this.timeoutMs)}`, { kind: 'unreachable' }));
      }, Math.max(0, budgetEnds - Date.now()));
    });
    try {
      return await Promise.race([fallback.snapshot(specs), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.http.close();
    this.fallback?.close();
  }
}

const ELECTION_PAUSE_MS = 100;
const ELECTION = /etcdserver: (leader changed|no leader)/;

/** Whether a failed round met a cluster between leaders (any member said so). */
export function duringElection(err: unknown): boolean {
  const failures = err instanceof EtcdError && err.cause instanceof AggregateError ? (err.cause.errors as unknown[]) : [err];
  return failures.some((f) => f instanceof Error && ELECTION.test(f.message));
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

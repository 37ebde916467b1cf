/**
 * The Store on a real etcd, through the etcd3 client. One client, so one gRPC connection and one watch
 * stream for every target. The library's own watch resume is not trusted (see docs/etcd-client.md):
 * any disconnect or watcher error is reported once as broken, and the agent watches again from its own resume
 * point (or reads afresh when etcd cancelled the watch).
 */
import { noop } from 'cockatiel';
import { Etcd3, type IOptions } from 'etcd3';
import { errorMessage } from '../errors';
import { classify } from './classify';
import { routeGrpcLogs } from './grpc-log';
import { endpointLabel, type Endpoint } from './endpoints';
import { Members } from './members';
import { DEFAULT_ETCD_TIMEOUT_MS, type ConnectionSettings } from './settings';
import { PAGE, readSnapshot } from './snapshot';
import { specRange, WatchCancelledError, type Head, type KeySpec, type Snapshot, type Store, type WatchHandle, type WatchHandlers } from './store';
import { watchSpecs } from './watch';

export interface StoreOptions {
  /** Deadline for each unary call (get, range); by default the settings' timeoutMs (--etcd-timeout). */
  callTimeoutMs?: number;
  /** How long a watch may take to be created before the client is rebuilt. */
  watchCreateTimeoutMs?: number;
  /** Where to report a changed SRV answer, a member list that could not be refreshed, and grpc-js's own messages. */
  warn?: (message: string) => void;
  /** gRPC keepalive: ping this often while a call (the watch) is open. Must not be under etcd's --grpc-keepalive-min-time (5 s). */
  keepaliveMs?: number;
}

export class EtcdStore implements Store {
  private client: Etcd3 | null = null;
  /** The member `client` talks to. */
  private endpoint: Endpoint | null = null;
  private readonly members: Members;
  private readonly callTimeoutMs: number;
  private readonly watchCreateTimeoutMs: number;
  private readonly keepaliveMs: number;
  /** The revision a watch starts from right after the last snapshot: that one needs no compaction check. */
  private freshFrom: number | null = null;

  constructor(
    private readonly settings: ConnectionSettings,
    opts: StoreOptions = {},
  ) {
    this.members = new Members(settings.source, opts.warn);
    this.callTimeoutMs = opts.callTimeoutMs ?? settings.timeoutMs ?? DEFAULT_ETCD_TIMEOUT_MS;
    this.watchCreateTimeoutMs = opts.watchCreateTimeoutMs ?? 10_000;
    this.keepaliveMs = opts.keepaliveMs ?? 10_000;
    if (opts.warn) routeGrpcLogs(opts.warn);
  }

  get endpoints(): readonly string[] {
    return this.members.labels;
  }

  /** The client for `endpoint`, built afresh when the member changed. */
  private clientFor(endpoint: Endpoint): Etcd3 {
    if (!this.client || this.endpoint !== endpoint) {
      this.client?.close();
      this.client = this.newClient(endpoint);
      this.endpoint = endpoint;
    }
    return this.client;
  }

  private newClient(endpoint: Endpoint): Etcd3 {
    const { tls, auth } = this.settings;
    const options: IOptions = {
      // One member per client: the store chooses the member, in order, and moves on when it fails.
      hosts: [endpoint.url],
      // Without a CA file, gRPC's createSsl takes null as "the system's CAs"; the library's type does not say so.
      ...(tls ? { credentials: { rootCertificate: tls.ca ?? (null as unknown as Buffer), certChain: tls.cert, privateKey: tls.key } } : {}),
      ...(auth ? { auth: { username: auth.username, password: auth.password } } : {}),
      // Deadlines on unary calls; the library never reads dialTimeout (docs/etcd-client.md).
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + this.callTimeoutMs }),
      // One attempt per call: the agent retries with its own backoff and re-reads, so the library's three
      // retries would only triple every timeout.
      faultHandling: { host: () => noop, global: noop },
      grpcOptions: {
        // A half-open connection is otherwise noticed only after minutes (docs/etcd-client.md). Pings go only
        // while a call is open (the watch, a read): etcd 3.4's default enforcement refuses pings on a connection
        // with no stream, and after three of them closes it with GOAWAY too_many_pings.
        'grpc.keepalive_time_ms': this.keepaliveMs,
        'grpc.keepalive_timeout_ms': 5_000,
        'grpc.keepalive_permit_without_calls': 0,
        // A recursive key with 100,000 values is larger than gRPC's 4 MB default.
        'grpc.max_receive_message_length': -1,
        // An SRV target reached by its address still has its certificate checked against its name.
        ...(endpoint.serverName
          ? { 'grpc.ssl_target_name_override': endpoint.serverName, 'grpc.default_authority': endpoint.serverName }
          : {}),
      },
    };
    return new Etcd3(options);
  }

  /** Closes the client; the next call starts a fresh one. The way out of a jammed watch queue or a dead token. */
  private rebuild(): void {
    this.client?.close();
    this.client = null;
  }

  /** The client for the member in use now (the report's presence key rides the same connection). */
  async currentClient(): Promise<Etcd3> {
    return this.clientFor(await this.members.endpoint());
  }

  /** A read on the current member, moving on to the next while they fail (one round at most). */
  private onSomeMember<T>(read: (client: Etcd3) => Promise<T>): Promise<T> {
    return this.members.tryEach('read', async (endpoint) => {
      try {
        return await read(this.clientFor(endpoint));
      } catch (err) {
        this.rebuild();
        throw err;
      }
    });
  }

  async snapshot(specs: readonly KeySpec[]): Promise<Snapshot> {
    const snap = await this.onSomeMember((client) => this.read(client, specs));
    this.freshFrom = snap.revision + 1;
    return snap;
  }

  /**
   * An empty transaction: it reads no key (so it needs no permission), is linearizable like any read, and its
   * header names the cluster and its revision.
   */
  head(): Promise<Head> {
    return this.onSomeMember(async (client) => {
      const res = await client.kv.txn({});
      return { revision: Number(res.header.revision), cluster: res.header.cluster_id };
    });
  }

  private read(client: Etcd3, specs: readonly KeySpec[]): Promise<Snapshot> {
    return readSnapshot(specs, {
      txnRanges: async (ranges, revision) => {
        const res = await client.kv.txn({
          success: ranges.map((r) => ({ request_range: { key: r.start, range_end: r.end, revision, limit: PAGE } })),
        });
        const pages = res.responses.map((r) => r.response_range);
        return { revision: Number(res.header.revision), cluster: res.header.cluster_id, pages };
      },
      range: (start, end, revision) => client.kv.range({ key: start, range_end: end, revision, limit: PAGE }),
    });
  }

  /**
   * A watch that resumes (from anywhere but right after the last snapshot) first asks whether its start
   * revision is still held: etcd 3.4 would create a watch from a compacted revision and cancel it only on its
   * next sync, about a second later, while a range read at that revision is refused at once. The answer is
   * the same WatchCancelledError, delivered through onBroken as etcd's own cancel is, so that the caller reads
   * a fresh snapshot straight away instead of treating it as a failed connection.
   */
  async watch(specs: readonly KeySpec[], fromRevision: number, handlers: WatchHandlers): Promise<WatchHandle> {
    const fresh = fromRevision === this.freshFrom;
    this.freshFrom = null;
    // The member the snapshot just came from; if it fails now, the next snapshot moves on.
    const endpoint = await this.members.endpoint();
    const client = this.clientFor(endpoint);
    const at = endpointLabel(endpoint);
    const rebuild = (): void => {
      if (this.client === client) this.rebuild();
    };
    try {
      const gone = fresh ? null : await compacted(client, specs, fromRevision, at);
      if (gone) return brokenAtOnce(gone, handlers);
      return await watchSpecs({ client, at, createTimeoutMs: this.watchCreateTimeoutMs, rebuild }, specs, fromRevision, handlers);
    } catch (err) {
      const e = classify(err, at, 'watch');
      // A cancel (a compacted revision, a refused permission) is etcd's answer, not a failing member.
      if (e.kind !== 'auth' && !(e instanceof WatchCancelledError)) {
        this.members.failed();
        this.rebuild();
      }
      throw e;
    }
  }

  close(): void {
    this.rebuild();
  }
}

/**
 * Whether etcd has compacted `revision` away, from a range read at it of the narrowest range watched (one key
 * where there is one, and no value): the error for a WatchCancelledError when it has, else null. A "future
 * revision" answer means nothing happened since: not compacted either. Any other failure is left to the
 * watch itself, which reports it as it always has.
 */
async function compacted(client: Etcd3, specs: readonly KeySpec[], revision: number, at: string): Promise<WatchCancelledError | null> {
  const spec = specs.find((s) => !s.recursive) ?? specs[0];
  if (spec === undefined) return null;
  const r = specRange(spec);
  try {
    await client.kv.range({ key: r.start, range_end: r.end, revision, limit: 1, keys_only: true });
    return null;
  } catch (err) {
    if (!/required revision has been compacted/.test(errorMessage(err))) return null;
    return new WatchCancelledError(`etcd watch on ${at} cannot start from revision ${revision}: etcd has compacted it`, { cause: err });
  }
}

/** A watch that never started: `reason` reaches onBroken right after watch() returns, once, unless cancelled first. */
function brokenAtOnce(reason: Error, handlers: WatchHandlers): WatchHandle {
  let cancelled = false;
  queueMicrotask(() => !cancelled && handlers.onBroken(reason));
  return {
    cancel: () => {
      cancelled = true;
      return Promise.resolve();
    },
  };
}

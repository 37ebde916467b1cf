/**
 * The Store on a real etcd, through the etcd3 client. One client, so one gRPC connection and one watch
 * stream for every target. The library's own watch resume is not trusted (see docs/etcd-client.md):
 * any disconnect or watcher error is reported once as broken, and the agent re-reads and re-watches.
 */
import { noop } from 'cockatiel';
import { Etcd3, EtcdInvalidAuthTokenError, Range, type IOptions, type IKeyValue, type Watcher } from 'etcd3';
import { EtcdError } from '../errors';
import { classify } from './classify';
import { routeGrpcLogs } from './grpc-log';
import { endpointLabel, type Endpoint } from './endpoints';
import { Members } from './members';
import type { ConnectionSettings } from './settings';
import { PAGE, readSnapshot } from './snapshot';
import {
  mergeRanges,
  SpecIndex,
  type KeySpec,
  type Snapshot,
  type Store,
  type WatchEvent,
  type WatchHandle,
  type WatchHandlers,
} from './store';

/** How long cancelling a watch may take before the client is rebuilt. */
const CANCEL_TIMEOUT_MS = 1000;

export interface StoreOptions {
  /** Deadline for each unary call (get, range). */
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

  constructor(
    private readonly settings: ConnectionSettings,
    opts: StoreOptions = {},
  ) {
    this.members = new Members(settings.source, opts.warn);
    this.callTimeoutMs = opts.callTimeoutMs ?? 5000;
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
      // Deadlines on unary calls; the library never reads dialTimeout (notes, 7).
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

  /** Reads from the current member, moving on to the next while they fail (one round at most). */
  async snapshot(specs: readonly KeySpec[]): Promise<Snapshot> {
    return this.members.tryEach('read', async (endpoint) => {
      const client = this.clientFor(endpoint);
      try {
        return await this.read(client, specs);
      } catch (err) {
        this.rebuild();
        throw err;
      }
    });
  }

  private read(client: Etcd3, specs: readonly KeySpec[]): Promise<Snapshot> {
    return readSnapshot(specs, {
      txnRanges: async (ranges, revision) => {
        const res = await client.kv.txn({
          success: ranges.map((r) => ({ request_range: { key: r.start, range_end: r.end, revision, limit: PAGE } })),
        });
        return { revision: Number(res.header.revision), pages: res.responses.map((r) => r.response_range) };
      },
      range: (start, end, revision) => client.kv.range({ key: start, range_end: end, revision, limit: PAGE }),
    });
  }

  async watch(specs: readonly KeySpec[], fromRevision: number, handlers: WatchHandlers): Promise<WatchHandle> {
    // The member the snapshot just came from; if it fails now, the next snapshot moves on.
    const endpoint = await this.members.endpoint();
    const client = this.clientFor(endpoint);
    const at = endpointLabel(endpoint);
    const watchers: Watcher[] = [];
    const index = new SpecIndex(specs, (s) => s);
    let broken = false;
    // A cancel goes through the client's watch stream; on a broken or silent stream it may never be answered,
    // and the client's queue is then stuck (notes, 5). Give it a moment, then start a fresh client.
    let cancelling: Promise<void> | null = null;
    const cancelOnce = async (): Promise<void> => {
      if (watchers.length === 0) return;
      const cancelled = Promise.allSettled(watchers.map((w) => w.cancel())).then(() => true);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), CANCEL_TIMEOUT_MS)));
      const ok = await Promise.race([cancelled, late]);
      clearTimeout(timer);
      if (!ok && this.client === client) this.rebuild();
    };
    // However often it is asked (the break, then the feed's own cancel), the watchers are cancelled once.
    const cancelAll = (): Promise<void> => (cancelling ??= cancelOnce());
    const breakOnce = (reason: Error, cause?: unknown): void => {
      if (broken) return;
      broken = true;
      // A watcher killed by an expired token leaves a client whose next watch may hang (notes, 4).
      if (cause instanceof EtcdInvalidAuthTokenError && this.client === client) this.rebuild();
      void cancelAll();
      handlers.onBroken(reason);
    };
    try {
      for (const r of mergeRanges(specs)) {
        const w = await this.createWatcher(client, r.start, r.end, fromRevision);
        watchers.push(w);
        w.on('data', (res) => {
          if (broken) return;
          const events: WatchEvent[] = [];
          for (const e of res.events) {
            const key = e.kv.key.toString('utf8');
            if (index.lookup(key).length === 0) continue;
            events.push(toEvent(e.type === 'Delete' ? 'delete' : 'put', e.kv, key));
          }
          handlers.onEvents(events, Number(res.header.revision));
        });
        w.on('disconnected', (err) => breakOnce(classify(err, at, 'watch'), err));
        w.on('error', (err) => breakOnce(classify(err, at, 'watch'), err));
        w.on('end', () => breakOnce(new EtcdError(`etcd watch on ${at} ended`, { kind: 'unreachable' })));
      }
    } catch (err) {
      broken = true;
      await cancelAll();
      const e = classify(err, at, 'watch');
      if (e.kind !== 'auth') {
        this.members.failed();
        this.rebuild();
      }
      throw e;
    }
    return { cancel: async () => { broken = true; await cancelAll(); } };
  }

  private createWatcher(client: Etcd3, start: Buffer, end: Buffer, fromRevision: number): Promise<Watcher> {
    // watcher() rather than create(): on a time-out the pending watcher must be detached, or the closed
    // client's watch manager would keep trying to re-establish its stream, forever.
    const w = client.watch().inRange(new Range(start, end)).startRevision(String(fromRevision)).watcher();
    return new Promise<Watcher>((resolve, reject) => {
      const timer = setTimeout(() => {
        w.removeAllListeners();
        void w.cancel().catch(() => undefined);
        // A create that never answers jams the client's queue (notes, 5): start a new client.
        if (this.client === client) this.rebuild();
        reject(new Error(`watch was not created within ${this.watchCreateTimeoutMs} ms`));
      }, this.watchCreateTimeoutMs);
      w.once('connected', () => {
        clearTimeout(timer);
        resolve(w);
      });
      w.once('error', (err: Error) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  close(): void {
    this.rebuild();
  }
}

function toEvent(type: 'put' | 'delete', kv: IKeyValue, key: string): WatchEvent {
  return { type, key, value: type === 'put' ? kv.value.toString('utf8') : '', revision: Number(kv.mod_revision) };
}

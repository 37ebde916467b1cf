/**
 * The rollout coordinator: one agent of the fleet, chosen with etcd's own election (etcd3's `election`, under
 * `<prefix>/rollout-election/`), watches every report under `<prefix>/` and writes each target's record,
 * `<prefix>/rollout/<target>` (decide.ts's `prove`), so that the later waves' agents watch one small key per
 * target instead of every report. Every agent with a `rollout` target campaigns; when the leader dies, its
 * election key goes with its lease (ELECTION_TTL_SECONDS) and the next candidate takes over: it reads the reports
 * and the records afresh, keeps what was proven, and starts its bake clocks anew (so it proves late, never early).
 */
import type { Campaign, Etcd3, IKeyValue, Watcher } from 'etcd3';
import { errorMessage } from '../errors';
import { classify } from '../etcd/classify';
import type { AgentReport } from '../agent/report';
import type { Logger } from '../log';
import { OkClock, prove, type HostView } from './decide';
import { ELECTION_DIR, isReportKey, rolloutKeyKind, type RolloutRecord } from './record';

/** A dead coordinator's election key goes this long after its last keep-alive; the next one takes over then. */
export const ELECTION_TTL_SECONDS = 10;
/** Report changes that come together make one evaluation. */
const SETTLE_MS = 50;
const RETRY_MS = 1000;
/** Every report is read again this often, whatever the watch says: a safety net (see RECHECK_MS in gate.ts). */
const REREAD_MS = 30_000;

type State = { kind: 'idle' } | { kind: 'campaigning'; campaign: Campaign } | { kind: 'leading'; campaign: Campaign; session: Session } | { kind: 'stopped' };

export class Coordinator {
  private state: State = { kind: 'idle' };
  private retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly client: () => Promise<Etcd3>,
    private readonly prefix: string,
    private readonly name: string,
    private readonly log: Logger,
    private readonly ttlSeconds = ELECTION_TTL_SECONDS,
  ) {}

  /** Campaigns now, and again after a failed campaign, until stop(). */
  start(): void {
    this.client().then(
      (client) => this.campaign(client),
      (err: unknown) => this.again(err),
    );
  }

  private campaign(client: Etcd3): void {
    if (this.state.kind === 'stopped') return;
    // etcd3 keeps an election's keys under `<namespace>election/<name>/`: `<prefix>/rollout-election/coordinator/<lease>`.
    const election = client.namespace(`${this.prefix}/rollout-`).election('coordinator', this.ttlSeconds);
    const campaign = election.campaign(this.name);
    this.state = { kind: 'campaigning', campaign };
    campaign.on('elected', () => {
      if (this.state.kind !== 'campaigning' || this.state.campaign !== campaign) return;
      this.log.info({ election: `${this.prefix}/${ELECTION_DIR}` }, 'elected to coordinate the rollouts');
      // Every record written is fenced on this leader's own election key: a leader that lost its lease (and so
      // its key) before it heard so writes nothing more.
      const fence = campaign.getCampaignKey();
      fence.catch(() => undefined);
      const session = new Session(client, this.prefix, this.log, () => fence);
      this.state = { kind: 'leading', campaign, session };
      session.start();
    });
    campaign.on('error', (err: unknown) => {
      if (this.state.kind === 'stopped') return;
      if (this.state.kind === 'leading') void this.state.session.stop();
      this.log.warn({ err: errorMessage(err) }, 'rollout election lost or failed; campaigning again');
      this.state = { kind: 'idle' };
      this.again(err);
    });
  }

  private again(err: unknown): void {
    if (this.state.kind === 'stopped' || this.retry) return;
    this.log.debug({ err: errorMessage(err) }, 'rollout election: retrying');
    this.retry = setTimeout(() => {
      this.retry = null;
      this.start();
    }, RETRY_MS);
  }

  /** Stops coordinating and resigns, so that another agent takes over at once. */
  async stop(): Promise<void> {
    const s = this.state;
    this.state = { kind: 'stopped' };
    if (this.retry) clearTimeout(this.retry);
    if (s.kind === 'leading') await s.session.stop();
    if (s.kind === 'leading' || s.kind === 'campaigning') await s.campaign.resign().catch(() => undefined);
  }
}

/** One term as the coordinator: the reports read, then watched, and the records written as they change. */
class Session {
  private readonly hosts = new Map<string, HostView>();
  private readonly records = new Map<string, RolloutRecord>();
  /** What this session wrote last, by target, so that an unchanged record is not written again. */
  private readonly written = new Map<string, string>();
  private readonly clock = new OkClock();
  private watcher: Watcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private nextCheck: number | undefined;
  private stopped = false;
  private writing: Promise<void> = Promise.resolve();
  private reread: NodeJS.Timeout | null = null;

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    private readonly log: Logger,
    /** The leader's own election key, which must still exist for a record to be written. */
    private readonly fence: () => Promise<string>,
  ) {}

  start(): void {
    this.begin().catch((err: unknown) => this.restart(err));
    this.reread ??= setInterval(() => {
      if (this.stopped) return;
      const w = this.watcher;
      this.watcher = null;
      void w?.cancel().catch(() => undefined);
      this.begin().catch((err: unknown) => this.restart(err));
    }, REREAD_MS);
  }

  private async begin(): Promise<void> {
    const res = await this.client.getAll().prefix(`${this.prefix}/`).exec();
    if (this.stopped) return;
    this.hosts.clear();
    for (const kv of res.kvs) this.take(kv, Date.now());
    const watcher = await this.client.watch().prefix(`${this.prefix}/`).startRevision(String(Number(res.header.revision) + 1)).create();
    if (this.stopped) {
      await watcher.cancel();
      return;
    }
    this.watcher = watcher;
    watcher.on('put', (kv) => {
      this.take(kv, Date.now());
      this.soon(SETTLE_MS);
    });
    watcher.on('delete', (kv) => {
      const key = kv.key.toString();
      if (!isReportKey(this.prefix, key)) return;
      const name = key.slice(this.prefix.length + 1);
      this.hosts.delete(name);
      this.clock.forget(name);
      this.soon(SETTLE_MS);
    });
    // The library's resume is not trusted (docs/etcd-client.md): read everything again instead.
    watcher.on('disconnected', (err: unknown) => this.restart(err));
    watcher.on('error', (err: unknown) => this.restart(err));
    this.soon(0);
  }

  private take(kv: IKeyValue, now: number): void {
    const key = kv.key.toString();
    if (isReportKey(this.prefix, key)) {
      const name = key.slice(this.prefix.length + 1);
      let report: AgentReport;
      try {
        report = JSON.parse(kv.value.toString()) as AgentReport;
      } catch (err) {
        this.log.warn({ key, err: errorMessage(err) }, 'not a fleet report; left out of the rollouts');
        return;
      }
      const problem = reportProblem(report);
      if (problem) {
        this.log.warn({ key, problem }, `not a fleet report (${problem}); left out of the rollouts`);
        this.hosts.delete(name);
        return;
      }
      this.hosts.set(name, { report: { ...report, name }, modRevision: Number(kv.mod_revision) });
      for (const [id, t] of Object.entries(report.targets)) this.clock.observe(name, id, t, now);
      return;
    }
    const k = rolloutKeyKind(this.prefix, key);
    if (k?.kind !== 'record') return;
    const value = kv.value.toString();
    // Written over by someone else (a deposed coordinator before records were fenced, an operator, an older
    // agent): the gates follow what is in etcd, so the next evaluation writes this session's record again.
    if (this.written.get(k.target) !== value) this.written.delete(k.target);
    try {
      this.records.set(k.target, JSON.parse(value) as RolloutRecord);
    } catch {
      // Not one of ours: the next evaluation writes a good one over it.
      this.records.delete(k.target);
    }
  }

  /** Evaluates after `ms` (or sooner, if already due). */
  private soon(ms: number): void {
    if (this.stopped) return;
    const at = Date.now() + ms;
    if (this.timer && this.nextCheck !== undefined && this.nextCheck <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.nextCheck = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.nextCheck = undefined;
      this.writing = this.writing.then(() => this.evaluate()).catch((err: unknown) => this.restart(err));
    }, ms);
  }

  private async evaluate(): Promise<void> {
    if (this.stopped) return;
    const now = Date.now();
    const hosts = [...this.hosts.values()];
    const ids = new Set(hosts.flatMap((h) => Object.entries(h.report.targets).filter(([, t]) => t.rollout).map(([id]) => id)));
    let next: number | undefined;
    for (const id of ids) {
      const proof = prove(id, hosts, this.clock, this.records.get(id), now);
      if (!proof) continue;
      if (proof.nextCheck !== undefined) next = Math.min(next ?? Infinity, proof.nextCheck);
      const json = JSON.stringify(proof.record);
      if (this.written.get(id) === json) continue;
      const key = `${this.prefix}/rollout/${encodeURIComponent(id)}`;
      let written: boolean;
      try {
        const own = await this.fence();
        const res = await this.client.if(own, 'Create', '>', 0).then(this.client.put(key).value(json)).commit();
        written = res.succeeded;
      } catch (err) {
        throw classify(err, key, 'write');
      }
      if (!written) {
        // Not the leader any more: the campaign's error follows, and a new session reads afresh.
        this.log.warn({ target: id }, 'rollout record not written: this agent no longer leads the election');
        await this.stop();
        return;
      }
      this.written.set(id, json);
      this.records.set(id, proof.record);
      this.log.debug({ target: id, record: proof.record }, 'rollout record written');
    }
    if (next !== undefined) this.soon(Math.max(0, next - Date.now()));
  }

  /** After a failure: drop the watch and read everything again. */
  private restart(err: unknown): void {
    if (this.stopped) return;
    this.log.warn({ err: errorMessage(err) }, 'rollout coordinator: reading the reports again');
    const w = this.watcher;
    this.watcher = null;
    void w?.cancel().catch(() => undefined);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.written.clear();
      this.start();
    }, RETRY_MS);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.reread) clearInterval(this.reread);
    await this.writing.catch(() => undefined);
    await this.watcher?.cancel().catch(() => undefined);
  }
}

/**
 * What makes a value under the report prefix unusable by the coordinator (it was written by something other than
 * a reconfig agent, or damaged), or undefined. Checked before use: a bad one must not stop the rollouts.
 */
function reportProblem(report: unknown): string | undefined {
  const r = report as { targets?: unknown } | null;
  if (typeof r !== 'object' || r === null || typeof r.targets !== 'object' || r.targets === null) return 'no targets object';
  for (const [id, t] of Object.entries(r.targets as Record<string, unknown>)) {
    const s = t as { state?: unknown; revision?: unknown; rollout?: { bakeMs?: unknown; minhosts?: unknown } } | null;
    if (typeof s !== 'object' || s === null) return `target ${id} is not an object`;
    if (typeof s.state !== 'string' || typeof s.revision !== 'number' || !Number.isFinite(s.revision)) return `target ${id} lacks a state or a revision`;
    if (s.rollout !== undefined && (typeof s.rollout?.bakeMs !== 'number' || !Number.isFinite(s.rollout.bakeMs) || typeof s.rollout.minhosts !== 'number')) {
      return `target ${id} has a rollout without bakeMs and minhosts`;
    }
  }
  return undefined;
}

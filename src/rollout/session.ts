/**
 * One term as the rollout coordinator (coordinator.ts elects it): every report under the prefix read, then
 * watched, and each target's record written as the reports change, fenced on the leader's election key.
 */
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { errorMessage } from '../errors';
import { classify } from '../etcd/classify';
import type { AgentReport } from '../agent/report';
import type { Logger } from '../log';
import { OkClock, prove, type HostView } from './decide';
import { isReportKey, rolloutKeyKind, type RolloutRecord } from './record';

/** Report changes that come together make one evaluation. */
const SETTLE_MS = 50;
const RETRY_MS = 1000;
/** Every report is read again this often, whatever the watch says: a safety net (see RECHECK_MS in gate.ts). */
const REREAD_MS = 30_000;

/** One term as the coordinator: the reports read, then watched, and the records written as they change. */
export class Session {
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

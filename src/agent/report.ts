/**
 * The fleet view (`--report <prefix>`): each agent keeps one key, `<prefix>/<name>`, on a lease, saying which
 * revision each of its targets has taken and how it stands, so that a deploy pipeline can ask whether the whole
 * fleet applied a change (`reconfig fleet`). It never holds data values: revisions, states, stages, messages
 * (which name keys, never values) and the sha256 of each file.
 */
import type { TargetError } from '../errors';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import type { Observer, Sync } from './ports';

/** A file's sha256 for the report; node:crypto loads only when a report is made (OpenSSL's start-up is not free). */
function digestText(text: string): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  return createHash('sha256').update(text).digest('hex');
}

/** What one host says of one target. */
export interface TargetReport {
  /**
   * Every change up to this revision is in the file: the watch's revision while the target is applied and idle,
   * else the revision of its last successful apply (0 before one).
   */
  revision: number;
  /**
   * `rolledback`: its verify failed on `revision` and the previous files are back (a failure of this host), or,
   * with stage `rollback`, an operator rolled it back by hand (`reconfig rollback`) and it is held away from
   * `revision`'s files.
   * `waiting`: a rollout's later wave keeps its file at `revision` until the wave before proves a newer one
   * (the message says which).
   */
  state: 'ok' | 'failed' | 'held' | 'starting' | 'rolledback' | 'waiting';
  /** With `failed`: where and why. */
  stage?: string;
  message?: string;
  /** When the state last changed (ISO 8601). */
  since: string;
  /** sha256 of the file as last applied. */
  sha256?: string;
  /** The target's `rollout` (bake in ms), read by the agent elected to coordinate the rollouts (src/rollout/). */
  rollout?: { bakeMs: number; minhosts: number };
}

/** The value of `<prefix>/<name>`. */
export interface AgentReport {
  name: string;
  version: string;
  started: string;
  updated: string;
  /** The agent's rollout wave (`--wave`; 0 when not given). */
  wave?: number;
  targets: Record<string, TargetReport>;
}

interface TargetState {
  applied: number;
  state: TargetReport['state'];
  stage?: string;
  message?: string;
  since: number;
  /** The applied file's text, until its digest is taken. */
  content?: string;
  sha256?: string;
  pending: boolean;
  /** With `rolledback`: the revision whose files the verify refused. */
  refusedAt?: number;
  /** A rollout gate feeds it (a later wave): its revision is what it applied, never the watch's. */
  gated?: boolean;
  /** Why a gated target does not take newer data now. */
  waitingFor?: string;
}

/** How often the key is written at most. */
const WRITE_EVERY_MS = 1000;

export class FleetReporter implements Observer {
  private watchRevision = 0;
  private readonly held = new Map<string, TargetState>();
  /** The next write, once scheduled; 'closed' once the agent stops (its key is revoked: nothing may bring it back). */
  private timer: NodeJS.Timeout | null | 'closed' = null;
  private lastWrite = 0;
  private writing: Promise<void> = Promise.resolve();
  /** The last write error logged, so that a refusal is logged once rather than every second. */
  private lastError: string | undefined;
  private readonly started = new Date().toISOString();
  /** Each target's `rollout`, by id. */
  private rolloutOf: ReadonlyMap<string, { bakeMs: number; minhosts: number }> = new Map();

  constructor(
    private readonly write: (json: string) => Promise<void>,
    private readonly info: { name: string; version: string; wave?: number },
    ids: readonly string[],
    private readonly log: Logger,
    /** Told whether the key in etcd is current: after each write, a failed one, and a lost lease. */
    private readonly inSync: (current: boolean) => void = () => undefined,
  ) {
    this.targets(ids);
  }

  targets(ids: readonly string[]): void {
    for (const id of [...this.held.keys()]) if (!ids.includes(id)) this.held.delete(id);
    for (const id of ids) if (!this.held.has(id)) this.held.set(id, { applied: 0, state: 'starting', since: Date.now(), pending: false });
    this.dirty();
  }

  /** The targets' `rollout` fields (at start and after SIGHUP), for the elected coordinator to read. */
  rollouts(of: ReadonlyMap<string, { bakeMs: number; minhosts: number }>): void {
    this.rolloutOf = of;
    this.dirty();
  }

  /** A rollout gate holds the target back (message), or lets it take data again (undefined). */
  waiting(id: string, message: string | undefined): void {
    const h = this.held.get(id);
    if (!h) return;
    h.gated = true;
    if (h.waitingFor === message) return;
    h.waitingFor = message;
    h.since = Date.now();
    this.dirty();
  }

  pending(id: string): void {
    const h = this.held.get(id);
    if (h) h.pending = true;
  }

  applied(id: string, _changed: boolean, revision: number, content: string, note?: string, heldFrom?: number): void {
    const h = this.held.get(id);
    if (!h) return;
    if (note !== undefined) {
      // Held at an older version by `reconfig rollback`: the host does not have `revision`'s files, and a
      // rollout must not count it as proving them (stage `rollback` tells it from the verify's own rollback).
      if (h.state !== 'rolledback' || h.stage !== 'rollback') h.since = Date.now();
      // Away from the data it was rolled back from: the hold's own record of it, else the last apply's (an agent
      // restarted while held has none: `revision` is only the render that found the hold).
      const from = heldFrom ?? (h.applied > 0 ? h.applied : revision);
      Object.assign(h, { state: 'rolledback', stage: 'rollback', message: note, refusedAt: from, content, pending: false });
    } else {
      if (h.state !== 'ok') h.since = Date.now();
      Object.assign(h, { applied: revision, state: 'ok', stage: undefined, message: undefined, content, pending: false });
    }
    this.dirty();
  }

  rolledBack(id: string, revision: number, message: string): void {
    const h = this.held.get(id);
    if (!h) return;
    if (h.state !== 'rolledback' || h.refusedAt !== revision) h.since = Date.now();
    Object.assign(h, { state: 'rolledback', stage: 'verify', message, refusedAt: revision, pending: false });
    this.dirty();
  }

  failed(id: string, stage: TargetError['stage'], message: string): void {
    const h = this.held.get(id);
    if (!h) return;
    const state = stage === 'hold' ? 'held' : 'failed';
    if (h.state !== state || h.message !== message) h.since = Date.now();
    Object.assign(h, { state, stage, message, pending: false });
    this.dirty();
  }

  events(_count: number, revision: number): void {
    if (revision <= this.watchRevision) return;
    this.watchRevision = revision;
    this.dirty();
  }

  synced(sync: Sync): void {
    this.events(0, sync.revision);
  }

  rendered(): void {}

  settled(): void {}

  disconnected(): void {}

  /** The report as it stands now. */
  snapshot(): AgentReport {
    const targets: Record<string, TargetReport> = {};
    for (const [id, h] of this.held) {
      if (h.content !== undefined) {
        h.sha256 = digestText(h.content);
        h.content = undefined;
      }
      const upToDate = h.state === 'ok' && !h.pending && !h.gated;
      // A gated target waits only while its file is fine (ok, or nothing applied yet); a failure shows as such.
      const waiting = h.waitingFor !== undefined && (h.state === 'ok' || h.state === 'starting');
      const rollout = this.rolloutOf.get(id);
      targets[id] = {
        revision: h.state === 'rolledback' ? (h.refusedAt ?? h.applied) : upToDate ? Math.max(h.applied, this.watchRevision) : h.applied,
        state: waiting ? 'waiting' : h.state,
        ...(waiting ? { message: h.waitingFor } : h.stage ? { stage: h.stage, message: h.message } : {}),
        since: new Date(h.since).toISOString(),
        ...(h.sha256 ? { sha256: h.sha256 } : {}),
        ...(rollout ? { rollout: { bakeMs: rollout.bakeMs, minhosts: rollout.minhosts } } : {}),
      };
    }
    const wave = this.info.wave === undefined ? {} : { wave: this.info.wave };
    return { name: this.info.name, version: this.info.version, started: this.started, updated: new Date().toISOString(), ...wave, targets };
  }

  /** Writes the report again soon (its lease was lost, so the key is gone). */
  rewrite(): void {
    this.inSync(false);
    this.dirty();
  }

  /**
   * Writes no more (the agent is stopping and its key is about to be revoked: an apply that ends after this must
   * not grant a new lease), and waits for a write in flight.
   */
  async close(): Promise<void> {
    if (this.timer && this.timer !== 'closed') clearTimeout(this.timer);
    this.timer = 'closed';
    await this.writing;
  }

  private dirty(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.lastWrite + WRITE_EVERY_MS - Date.now());
    this.timer = setTimeout(() => {
      if (this.timer === 'closed') return;
      this.timer = null;
      this.lastWrite = Date.now();
      this.writing = this.writing.then(() => this.send());
    }, wait);
  }

  private async send(): Promise<void> {
    if (this.timer === 'closed') return;
    try {
      await this.write(JSON.stringify(this.snapshot()));
      if (this.lastError !== undefined) this.log.info('fleet report written again');
      this.lastError = undefined;
      this.inSync(true);
    } catch (err) {
      const msg = errorMessage(err);
      if (msg !== this.lastError) this.log.warn(`fleet report not written (applies go on): ${msg}`);
      this.lastError = msg;
      this.inSync(false);
      // Tried again, at most once a second, until it is written.
      this.dirty();
    }
  }
}

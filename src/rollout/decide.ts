/**
 * The decisions of a rollout, pure and clocked from outside so that they can be tested in fake time:
 *
 * - `prove` (the elected coordinator): from the hosts' reports, which revision each wave has proven, and what
 *   halts a revision. A wave proves R when at least `minhosts` of its hosts have the target, every one of them
 *   reports it `ok` at R or later (or `waiting`, holding such a file, for newer data), and the last of them to get there has stayed so for `bake`. The time a host
 *   got there is when the coordinator first saw it (OkClock): a coordinator that takes over starts those clocks
 *   afresh, so it may prove later than the one before, never earlier. A proof only ever moves forward.
 * - `gate` (an agent in wave N > 0): given its target's record, an operator's promotion and halt, and the
 *   revision it holds, whether to apply a revision now or wait, and why.
 */
import type { AgentReport, TargetReport } from '../agent/report';
import type { HaltRecord, Promotion, RolloutRecord, WaveRecord } from './record';

/** When the coordinator first saw each host ok at each revision it reported, while it stays ok. */
export class OkClock {
  /** host\0target -> [revision, first seen ok at it (ms)], ascending in both. */
  private readonly seen = new Map<string, Array<[number, number]>>();

  /** Notes a host's state of a target now. */
  observe(host: string, target: string, t: Pick<TargetReport, 'state' | 'revision'> | undefined, now: number): void {
    const k = `${host}\0${target}`;
    // A later wave's host that waits keeps its file, applied and fine, at its revision: ok at it.
    if (!t || (t.state !== 'ok' && t.state !== 'waiting')) {
      this.seen.delete(k);
      return;
    }
    const list = this.seen.get(k);
    if (!list) this.seen.set(k, [[t.revision, now]]);
    else if (t.revision > list[list.length - 1][0]) list.push([t.revision, now]);
    else if (t.revision < list[list.length - 1][0]) this.seen.set(k, [[t.revision, now]]);
  }

  /** Forgets a host (its report is gone). */
  forget(host: string): void {
    for (const k of [...this.seen.keys()]) if (k.startsWith(`${host}\0`)) this.seen.delete(k);
  }

  /** Since when the host has been ok at `revision` or later; undefined when it is not. */
  reached(host: string, target: string, revision: number): number | undefined {
    return this.seen.get(`${host}\0${target}`)?.find(([r]) => r >= revision)?.[1];
  }

  /** The revisions the host was seen ok at (candidates for a proof). */
  revisions(host: string, target: string): number[] {
    return (this.seen.get(`${host}\0${target}`) ?? []).map(([r]) => r);
  }
}

/** One host as the coordinator sees it: its report, and the etcd revision at which that report was written. */
export interface HostView {
  report: AgentReport;
  modRevision: number;
}

export interface Proof {
  record: RolloutRecord;
  /** When a bake in progress ends (ms, on the clock given): evaluate again then. */
  nextCheck?: number;
}

const FAILED: ReadonlySet<TargetReport['state']> = new Set(['failed', 'rolledback']);
/** States in which a host holds its revision's file, applied and fine. */
const OK: ReadonlySet<TargetReport['state']> = new Set(['ok', 'waiting']);

/** The record of `target` now, from every host's report, the OkClock and the record written before. */
export function prove(target: string, hosts: readonly HostView[], clock: OkClock, prev: RolloutRecord | undefined, now: number): Proof | undefined {
  const mine = hosts.filter((h) => h.report.targets[target]?.rollout !== undefined);
  if (mine.length === 0) return undefined;
  // Every host should carry the same rollout; if they differ, the strictest counts.
  const bakeMs = Math.max(...mine.map((h) => h.report.targets[target].rollout!.bakeMs));
  const minhosts = Math.max(...mine.map((h) => h.report.targets[target].rollout!.minhosts));
  const waves: Record<string, WaveRecord> = {};
  let halted: HaltRecord | undefined;
  let nextCheck: number | undefined;
  const numbers = [...new Set(mine.map((h) => h.report.wave ?? 0))].sort((a, b) => a - b);
  for (const w of numbers) {
    const inWave = mine.filter((h) => (h.report.wave ?? 0) === w);
    const before = prev?.waves[String(w)]?.proven;
    const wave: WaveRecord = { hosts: inWave.length, reached: Math.min(...inWave.map((h) => h.report.targets[target].revision)) };
    const failing = inWave.find((h) => FAILED.has(h.report.targets[target].state));
    if (failing && (!halted || w < halted.wave)) halted = haltOf(target, w, failing, prev?.halted, now);
    const found = provenIn(target, inWave, clock, minhosts, bakeMs, now);
    if (found.nextCheck !== undefined) nextCheck = Math.min(nextCheck ?? Infinity, found.nextCheck);
    if (found.revision !== undefined && found.revision > (before?.revision ?? 0)) wave.proven = { revision: found.revision, since: new Date(now).toISOString() };
    else if (before) wave.proven = before;
    waves[String(w)] = wave;
  }
  // A wave whose hosts are all gone stays in the record, with no host: the later waves say that they wait for it.
  for (const [w, rec] of Object.entries(prev?.waves ?? {})) if (!(w in waves)) waves[w] = { ...rec, hosts: 0 };
  // A halt stays until its wave has proven a newer revision (the canary recovered on newer data).
  if (!halted && prev?.halted && (waves[String(prev.halted.wave)]?.proven?.revision ?? 0) < prev.halted.revision) halted = prev.halted;
  return { record: { target, bakeMs, minhosts, waves, ...(halted ? { halted } : {}) }, nextCheck };
}

function haltOf(target: string, wave: number, h: HostView, prev: HaltRecord | undefined, now: number): HaltRecord {
  const t = h.report.targets[target];
  const same = prev && prev.host === h.report.name && prev.wave === wave;
  if (t.state === 'rolledback' && t.stage === 'rollback') {
    // Rolled back by hand: the host was ok at (and may have helped prove) revisions from t.revision on, up to the
    // report that told it; every one of them is halted, and only a proof newer than that report lifts it.
    const message = `rolled back by hand: ${t.message ?? ''}`;
    if (same && prev.message === message) return prev;
    return { revision: Math.max(t.revision, h.modRevision), from: t.revision, wave, host: h.report.name, message, since: new Date(now).toISOString() };
  }
  // A rollback names the revision it refused; a failed check or reload leaves the report at the last revision
  // applied, so the failure is placed at the revision of the report that told it (no later than that).
  const revision = t.state === 'rolledback' ? t.revision : Math.max(t.revision, h.modRevision);
  const message = t.state === 'rolledback' ? `rolled back: ${t.message ?? ''}` : `${t.stage ?? 'apply'} failed: ${t.message ?? ''}`;
  const kept = same && prev.message === message;
  return { revision: kept ? prev.revision : revision, wave, host: h.report.name, message, since: kept ? prev.since : new Date(now).toISOString() };
}

/** The newest revision a wave proves now, and when a bake in progress ends. */
function provenIn(
  target: string,
  hosts: readonly HostView[],
  clock: OkClock,
  minhosts: number,
  bakeMs: number,
  now: number,
): { revision?: number; nextCheck?: number } {
  if (hosts.length < minhosts) return {};
  if (!hosts.every((h) => OK.has(h.report.targets[target].state))) return {};
  const names = hosts.map((h) => h.report.name);
  const floor = Math.min(...hosts.map((h) => h.report.targets[target].revision));
  const candidates = [...new Set(names.flatMap((n) => clock.revisions(n, target)))].filter((r) => r <= floor).sort((a, b) => b - a);
  let nextCheck: number | undefined;
  for (const r of candidates) {
    const times = names.map((n) => clock.reached(n, target, r));
    if (times.some((t) => t === undefined)) continue;
    const baked = Math.max(...(times as number[])) + bakeMs;
    if (baked <= now) return { revision: r, nextCheck };
    nextCheck = Math.min(nextCheck ?? Infinity, baked);
  }
  return { nextCheck };
}

export type GateDecision = { kind: 'apply'; revision: number } | { kind: 'wait'; message: string } | { kind: 'current' };

export interface GateInput {
  wave: number;
  record?: RolloutRecord;
  promotion?: Promotion;
  /** An operator's halt is in place. */
  halted: boolean;
  /** The revision whose data the target holds; undefined before the first. */
  loaded?: number;
  /** A proven revision this host could not read: etcd had compacted it. */
  compacted?: number;
}

/** What an agent in wave N > 0 does with its target now. */
export function gate(g: GateInput): GateDecision {
  const before = `wave ${g.wave - 1}`;
  if (g.halted) return { kind: 'wait', message: 'halted by an operator (reconfig fleet resume lets it go on)' };
  const stop = g.record?.halted && g.record.halted.wave < g.wave ? g.record.halted : undefined;
  let proven = g.record?.waves[String(g.wave - 1)]?.proven?.revision ?? 0;
  // The first halted revision: a rollback by hand halts revisions its wave may have proven before it.
  const low = stop ? (stop.from ?? stop.revision) : 0;
  // Defence in depth: a wave that failed at R cannot have proven R, but never pass a halted revision on.
  if (stop && proven >= low) proven = 0;
  const allowed = Math.max(proven, g.promotion?.revision ?? 0);
  if (g.compacted !== undefined && allowed <= g.compacted) {
    return { kind: 'wait', message: `revision ${g.compacted} was compacted before this host could read it; waiting for ${before} to prove a newer one` };
  }
  if (allowed > 0 && allowed > (g.loaded ?? 0)) return { kind: 'apply', revision: allowed };
  if (stop && low > (g.loaded ?? 0)) return { kind: 'wait', message: `halted at ${low}: ${stop.host} ${stop.message}` };
  const prior = g.record?.waves[String(g.wave - 1)];
  const reached = prior?.reached ?? 0;
  if (prior && g.record && prior.hosts < g.record.minhosts) {
    const promote = `reconfig fleet promote --revision R lets this wave go`;
    return { kind: 'wait', message: `waiting for ${before}, which has ${prior.hosts} live host(s) of the ${g.record.minhosts} it needs to prove a revision (${promote})` };
  }
  if (g.loaded === undefined) return { kind: 'wait', message: reached > 0 ? `waiting for ${before} to prove revision ${reached}` : `waiting for ${before} to prove a revision` };
  if (reached > g.loaded) return { kind: 'wait', message: `waiting for ${before} to prove revision ${reached}` };
  return { kind: 'current' };
}

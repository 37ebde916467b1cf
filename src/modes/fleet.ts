/**
 * `reconfig fleet --report <prefix>`: what the agents that keep a fleet report (`--report`) say, one line per
 * host and target; `--json` for machines. With `--wait-revision R`: the step a deploy pipeline runs after
 * writing to etcd, which exits 0 once every host reports R or later on every target (or on those named by
 * `--target`), and 1 at the time-out, naming the laggards and the failures. It reads through etcd's JSON gateway,
 * as --onetime does.
 */
import type { AgentReport } from '../agent/report';
import { isReportKey, rolloutKeyKind, type Halt, type Promotion, type RolloutRecord } from '../rollout/record';
import { EtcdError, errorMessage, type RunResult } from '../errors';
import type { Reader } from '../etcd/store';
import { table } from './table';
import type { ModeContext } from './context';
import type { FleetPlan } from './plan';

export interface FleetOptions {
  report: string;
  /** `fleet promote|halt|resume` (fleet-control.ts). */
  control?: FleetPlan['control'];
  json: boolean;
  waitRevision?: number;
  timeoutMs: number;
  targets?: string[];
}

type Out = (text: string) => void;

/** How often the reports are read again while waiting. */
const POLL_MS = 250;

/** A target's rollout as the fleet shows it: the coordinator's record and the operator's controls. */
export interface RolloutView {
  target: string;
  record?: RolloutRecord;
  promotion?: Promotion;
  halt?: Halt;
}

interface Fleet {
  reports: AgentReport[];
  rollouts: RolloutView[];
}

/** Every report under the prefix, and the rollouts; a value that is not a report is named on `err` and left out. */
async function readFleetKeys(reader: Reader, prefix: string, err: Out): Promise<Fleet> {
  const key = prefix.replace(/\/+$/, '');
  const snap = await reader.snapshot([{ key, recursive: true }]);
  const reports: AgentReport[] = [];
  const rollouts = new Map<string, RolloutView>();
  for (const kv of snap.kvs[0]) {
    if (!isReportKey(key, kv.key)) {
      const k = rolloutKeyKind(key, kv.key);
      if (!k) continue;
      const view = rollouts.get(k.target) ?? { target: k.target };
      rollouts.set(k.target, view);
      try {
        const value: unknown = JSON.parse(kv.value);
        if (k.kind === 'record') view.record = value as RolloutRecord;
        else if (k.kind === 'promote') view.promotion = value as Promotion;
        else view.halt = value as Halt;
      } catch (e) {
        err(`${kv.key}: not a rollout value (${(e as Error).message})\n`);
      }
      continue;
    }
    try {
      const r = JSON.parse(kv.value) as AgentReport;
      if (typeof r.name !== 'string' || typeof r.targets !== 'object' || r.targets === null) throw new Error('no name or targets');
      reports.push(r);
    } catch (e) {
      err(`${kv.key}: not a fleet report (${(e as Error).message})\n`);
    }
  }
  reports.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { reports, rollouts: [...rollouts.values()].sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0)) };
}

function age(since: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(since)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

function stateText(t: AgentReport['targets'][string]): string {
  if (t.state === 'waiting') return `waiting: ${t.message ?? ''}`;
  return t.stage ? `${t.state} at ${t.stage}: ${t.message ?? ''}` : t.state;
}

/**
 * The table for people: host, target, revision, state (with the failure), age of the state; with waves (a host
 * in a wave above 0, or a rollout), each host's wave too, and then one line per target and wave of the rollouts.
 */
export function formatReports(reports: readonly AgentReport[], now = Date.now(), rollouts: readonly RolloutView[] = []): string {
  const waves = rollouts.length > 0 || reports.some((r) => (r.wave ?? 0) > 0);
  const rows = reports.flatMap((r) =>
    Object.entries(r.targets).map(([id, t]) => [r.name, ...(waves ? [String(r.wave ?? 0)] : []), id, String(t.revision), stateText(t), age(t.since, now)]),
  );
  const hosts = table(['HOST', ...(waves ? ['WAVE'] : []), 'TARGET', 'REVISION', 'STATE', 'AGE'], rows);
  if (rollouts.length === 0) return hosts;
  return `${hosts}\n${formatRollouts(rollouts, now)}`;
}

/** Per target and wave: the hosts, the revision proven and since when, the revision all of them reached; then what halts or promotes it. */
export function formatRollouts(rollouts: readonly RolloutView[], now = Date.now()): string {
  const rows: string[][] = [];
  for (const v of rollouts) {
    const waves = Object.entries(v.record?.waves ?? {}).sort(([a], [b]) => Number(a) - Number(b));
    for (const [w, rec] of waves) {
      rows.push([v.target, w, String(rec.hosts), rec.proven ? String(rec.proven.revision) : '-', rec.proven ? age(rec.proven.since, now) : '-', String(rec.reached)]);
    }
  }
  const notes: string[] = [];
  for (const v of rollouts) {
    const h = v.record?.halted;
    if (h) notes.push(`${v.target}: halted at ${h.from ?? h.revision} for waves after ${h.wave}: ${h.host} ${h.message} (${age(h.since, now)})`);
    if (v.halt) notes.push(`${v.target}: halted by an operator ${age(v.halt.since, now)} ago (reconfig fleet resume)`);
    if (v.promotion) notes.push(`${v.target}: revision ${v.promotion.revision} promoted to every wave ${age(v.promotion.at, now)} ago`);
  }
  return table(['ROLLOUT', 'WAVE', 'HOSTS', 'PROVEN', 'SINCE', 'REACHED'], rows) + notes.map((n) => `${n}\n`).join('');
}

/** A rollout that halted revision `rev` (or a later one) for the later waves, among the targets counted. */
export function haltedAt(rollouts: readonly RolloutView[], rev: number, only?: readonly string[]): string[] {
  return rollouts.flatMap((v) => {
    const h = v.record?.halted;
    if (!h || h.revision < rev || (only && !only.includes(v.target))) return [];
    return [`${v.target}: revision ${h.from ?? h.revision} halted in wave ${h.wave}: ${h.host} ${h.message}`];
  });
}

/** What keeps a fleet from revision `rev`: host/target pairs behind it, and the failing ones. */
export function laggards(reports: readonly AgentReport[], rev: number, only?: readonly string[]): { behind: string[]; failing: string[] } {
  const behind: string[] = [];
  const failing: string[] = [];
  for (const r of reports) {
    for (const [id, t] of Object.entries(r.targets)) {
      if (only && !only.includes(id)) continue;
      // A host that rolled back from a revision has not taken it: it fails the wait like a failed apply.
      if (t.state === 'rolledback') behind.push(`${r.name}/${id} rolled back from revision ${t.revision}`);
      else if (t.revision < rev) behind.push(`${r.name}/${id} at revision ${t.revision}`);
      if (t.state === 'failed' || t.state === 'held' || t.state === 'rolledback') failing.push(`${r.name}/${id} ${t.state}${t.stage ? ` at ${t.stage}` : ''}: ${t.message ?? ''}`);
    }
  }
  return { behind, failing };
}

export async function fleet(plan: FleetPlan, cx: ModeContext): Promise<RunResult> {
  if (plan.control) return (await import('./fleet-control')).fleetControl(plan, plan.control, cx);
  const { GatewayReader } = await import('../etcd/gateway');
  const reader = new GatewayReader(plan.connection, { warn: (msg) => cx.log.warn(msg) });
  try {
    const opts = { report: plan.report, json: plan.json, waitRevision: plan.waitRevision, timeoutMs: plan.timeoutMs, targets: plan.targets };
    return await readFleet(reader, opts, cx.out, cx.err);
  } finally {
    reader.close();
  }
}

export async function readFleet(reader: Reader, opts: FleetOptions, out: Out, err: Out): Promise<RunResult> {
  if (opts.waitRevision === undefined) {
    const { reports, rollouts } = await readFleetKeys(reader, opts.report, err);
    out(opts.json ? `${JSON.stringify(reports, null, 2)}\n` : formatReports(reports, Date.now(), rollouts));
    return { kind: 'ok' };
  }
  const rev = opts.waitRevision;
  const deadline = Date.now() + opts.timeoutMs;
  // A read that fails on the way (a member restarting, a leader election) is retried until the time-out; each
  // new reason is said once, and what was last retried is said again at the end.
  let lastError: string | undefined;
  for (;;) {
    let reports: AgentReport[] | null = null;
    let halted: string[] = [];
    try {
      const read = await readFleetKeys(reader, opts.report, () => undefined);
      reports = read.reports;
      halted = haltedAt(read.rollouts, rev, opts.targets);
    } catch (e) {
      if (!(e instanceof EtcdError) || e.misconfigured) throw e;
      if (errorMessage(e) !== lastError) err(`reading the reports failed, retrying until the time-out: ${errorMessage(e)}\n`);
      lastError = errorMessage(e);
    }
    const { behind, failing } = reports ? laggards(reports, rev, opts.targets) : { behind: [], failing: [] };
    if (reports && reports.length > 0 && behind.length === 0) {
      out(`every host (${reports.length}) has taken revision ${rev}\n`);
      return { kind: 'ok' };
    }
    // A halted rollout will not bring the later waves to the revision: say so now, not at the time-out.
    if (halted.length > 0) {
      for (const h of halted) err(`halted: ${h}\n`);
      for (const f of failing) err(`failing: ${f}\n`);
      err(`revision ${rev} will not reach every host: its rollout is halted\n`);
      return { kind: 'targets-failed' };
    }
    if (Date.now() >= deadline) {
      if (!reports) err(`the last read of the reports failed too: ${lastError ?? 'unknown error'}\n`);
      else if (reports.length === 0) err(`no agent reports under ${opts.report}\n`);
      for (const b of behind) err(`behind: ${b}\n`);
      for (const f of failing) err(`failing: ${f}\n`);
      err(`not every host took revision ${rev} within ${opts.timeoutMs} ms\n`);
      return { kind: 'targets-failed' };
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

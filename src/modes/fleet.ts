/**
 * `reconfig fleet --report <prefix>`: what the agents that keep a fleet report (`--report`) say, one line per
 * host and target; `--json` for machines. With `--wait-revision R`: the step a deploy pipeline runs after
 * writing to etcd, which exits 0 once every host reports R or later on every target (or on those named by
 * `--target`), and 1 at the time-out, naming the laggards and the failures. It reads through etcd's JSON gateway,
 * as --onetime does.
 */
import type { AgentReport } from '../agent/report';
import { EtcdError, errorMessage, type RunResult } from '../errors';
import type { Reader } from '../etcd/store';
import type { ModeContext } from './context';
import type { FleetPlan } from './plan';

export interface FleetOptions {
  report: string;
  json: boolean;
  waitRevision?: number;
  timeoutMs: number;
  targets?: string[];
}

type Out = (text: string) => void;

/** How often the reports are read again while waiting. */
const POLL_MS = 250;

/** Every report under the prefix; a value that is not a report is named on `err` and left out. */
async function readReports(reader: Reader, prefix: string, err: Out): Promise<AgentReport[]> {
  const key = prefix.replace(/\/+$/, '');
  const snap = await reader.snapshot([{ key, recursive: true }]);
  const reports: AgentReport[] = [];
  for (const kv of snap.kvs[0]) {
    try {
      const r = JSON.parse(kv.value) as AgentReport;
      if (typeof r.name !== 'string' || typeof r.targets !== 'object' || r.targets === null) throw new Error('no name or targets');
      reports.push(r);
    } catch (e) {
      err(`${kv.key}: not a fleet report (${(e as Error).message})\n`);
    }
  }
  return reports.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function age(since: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(since)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

/** The table for people: host, target, revision, state (with the failure), age of the state. */
export function formatReports(reports: readonly AgentReport[], now = Date.now()): string {
  const rows = reports.flatMap((r) =>
    Object.entries(r.targets).map(([id, t]) => [r.name, id, String(t.revision), t.stage ? `${t.state} at ${t.stage}: ${t.message ?? ''}` : t.state, age(t.since, now)]),
  );
  const head = ['HOST', 'TARGET', 'REVISION', 'STATE', 'AGE'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(width[i]))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n') + '\n';
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
    const reports = await readReports(reader, opts.report, err);
    out(opts.json ? `${JSON.stringify(reports, null, 2)}\n` : formatReports(reports));
    return { kind: 'ok' };
  }
  const rev = opts.waitRevision;
  const deadline = Date.now() + opts.timeoutMs;
  // A read that fails on the way (a member restarting, a leader election) is retried until the time-out; each
  // new reason is said once, and what was last retried is said again at the end.
  let lastError: string | undefined;
  for (;;) {
    let reports: AgentReport[] | null = null;
    try {
      reports = await readReports(reader, opts.report, () => undefined);
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

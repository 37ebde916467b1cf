/** --onetime: read every target at one revision, apply each once, and report. */
import type { Target } from '../target';
import type { Reader } from '../etcd/store';
import type { Outcome, RunnerContext } from './runner';
import { cleanStaged } from './cleanup';
import { wire } from './sources';

/** How many targets apply at once (each may run a check and a reload). */
const CONCURRENCY = 8;

export interface OnetimeReport {
  revision: number;
  outcomes: Outcome[];
}

export async function runOnce(store: Reader, targets: readonly Target[], ctx: RunnerContext): Promise<OnetimeReport> {
  cleanStaged(targets, ctx);
  const wired = targets.map((t) => wire(t, ctx, { manual: true }));
  const runners = wired.map(([r]) => r);
  // etcd: one snapshot for every keyed target, at one revision (plugin targets with no key read nothing).
  const keyed = runners.filter((r) => r.spec !== undefined);
  const snap = await store.snapshot(keyed.map((r) => r.spec!));
  keyed.forEach((r, i) => r.load(snap.kvs[i], snap.revision));
  // The other sources give their input once (Docker lists the containers running now).
  await Promise.all(wired.map(([r, sources]) => Promise.all(sources.map((s) => s.prime(r)))));
  const outcomes = new Array<Outcome>(runners.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < runners.length) {
      const i = next++;
      outcomes[i] = await runners[i].applyNow();
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, runners.length) }, worker));
  return { revision: snap.revision, outcomes };
}

/** A summary for people: one line per target, then the totals. */
export function formatReport(report: OnetimeReport, targets: readonly Target[], notreally: boolean): string {
  const width = Math.max(0, ...targets.map((t) => t.id.length));
  const lines = report.outcomes.map((o, i) => {
    const t = targets[i];
    let what: string;
    if (!o.ok) what = `FAILED at ${o.error?.stage ?? '?'}: ${firstLine(o.error?.message ?? '')}`;
    else if (notreally) what = o.changed ? 'would change' : 'unchanged';
    else what = o.changed ? (o.reloaded ? 'changed, reloaded' : 'changed') : o.reloaded ? 'reloaded' : 'unchanged';
    return `  ${t.id.padEnd(width)}  ${t.dest}  ${what}`;
  });
  const failed = report.outcomes.filter((o) => !o.ok).length;
  const changed = report.outcomes.filter((o) => o.ok && o.changed).length;
  const head =
    `reconfig --onetime${notreally ? ' --notreally' : ''}: ${report.outcomes.length} target(s) at revision ` +
    `${report.revision}: ${changed} ${notreally ? 'would change' : 'changed'}, ` +
    `${report.outcomes.length - changed - failed} unchanged, ${failed} failed`;
  return [head, ...lines].join('\n') + '\n';
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}

/**
 * --onetime: every target applied once from one read at one revision (through etcd's JSON gateway: no gRPC stack
 * to load for one read), a summary on stdout, and an exit code a bootstrap can trust: 0 only if every target
 * applied.
 */
import { applyOnce, type OnceReport } from '../agent/once';
import { noObserver } from '../agent/observer';
import type { RunResult } from '../errors';
import type { Target } from '../target';
import type { ModeContext } from './context';
import type { OnetimePlan } from './plan';
import { planTargets } from './targets';

export async function onetime(plan: OnetimePlan, cx: ModeContext): Promise<RunResult> {
  const { log } = cx;
  const targets = planTargets(plan.config, cx.env, { checkStateDir: !plan.notreally });
  log.info({ targets: targets.length, cfgdir: plan.config.cfgdir, notreally: plan.notreally }, 'configuration loaded');
  const { GatewayReader } = await import('../etcd/gateway');
  const reader = new GatewayReader(plan.connection, { warn: (msg) => log.warn(msg) });
  try {
    const ctx = { prefix: plan.config.prefix, notreally: plan.notreally, log, print: cx.out, observer: noObserver };
    const rep = await applyOnce(reader, targets, ctx);
    cx.out(formatSummary(rep, targets, plan.notreally));
    if (rep.outcomes.some((o) => o.error?.stage === 'internal')) return { kind: 'internal' };
    return rep.outcomes.every((o) => o.ok) ? { kind: 'ok' } : { kind: 'targets-failed' };
  } finally {
    reader.close();
  }
}

/** A summary for people: one line per target, then the totals. */
export function formatSummary(report: OnceReport, targets: readonly Target[], notreally: boolean): string {
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
  return line.length > 1000 ? `${line.slice(0, 1000)}...` : line;
}

/**
 * `reconfig history <id>` and `reconfig rollback <id>`: a target's kept versions (apply/history.ts), the diff of
 * one against the live files, and a version put back by hand. A rollback goes through the agent's own pipeline
 * (check, swap, reload, verify and its automatic rollback) and leaves a hold: the agent keeps the target at that
 * version until its data renders differently from what it rendered when the rollback was made.
 */
import { readFileSync } from 'node:fs';
import { unifiedDiff } from '../apply/diff';
import { History, type Version } from '../apply/history';
import { hasReload } from '../apply/pipeline';
import { applyVerified } from '../apply/verify';
import { TargetError, UsageError, VerifyError, errorMessage, type RunResult } from '../errors';
import type { Target } from '../target';
import type { ModeContext } from './context';
import { table } from './table';
import type { HistoryPlan, RollbackPlan } from './plan';
import { planTargets } from './targets';

function historyOf(plan: HistoryPlan | RollbackPlan, cx: ModeContext): { target: Target; history: History; versions: Version[] } {
  // The state directory is looked at here, as the history's: a missing one means no version kept yet.
  const targets = planTargets(plan.config, cx.env, { checkStateDir: false });
  const target = targets.find((t) => t.id === plan.id);
  if (!target) throw new UsageError(`no target with id ${JSON.stringify(plan.id)} (there are: ${targets.map((t) => t.id).join(', ') || 'none'})`);
  if (!target.history) throw new UsageError(`target ${target.id} keeps no history: give it "history": 5 in ${target.origin}`);
  const history = new History(target.history.dir, target.history.keep);
  return { target, history, versions: history.list() };
}

function pick(versions: readonly Version[], n: number, where: string): Version {
  const v = versions.find((x) => x.n === n);
  if (!v) throw new UsageError(`no version ${n} in ${where} (kept: ${versions.map((x) => x.n).join(', ') || 'none'})`);
  return v;
}

export async function history(plan: HistoryPlan, cx: ModeContext): Promise<RunResult> {
  const { target, history: h, versions } = historyOf(plan, cx);
  if (plan.diff !== undefined) {
    const v = pick(versions, plan.diff, h.dir);
    const kept = h.contents(v);
    const diffs = await Promise.all(
      v.files.map(async (f, i) => {
        let live: string | null = null;
        try {
          live = readFileSync(f.dest, 'utf8');
        } catch {
          live = null;
        }
        const old = kept[i].toString('utf8');
        if (live === old) return '';
        // From the version to what is live: what changed since then.
        return (await unifiedDiff(f.dest, old, live ?? '')).replace(/\t(current|rendered)$/gm, (_, w: string) => `\t${w === 'current' ? `version ${v.n}` : 'live'}`);
      }),
    );
    const text = diffs.join('');
    cx.out(text || `# ${target.id}: the live files are version ${v.n}'s\n`);
    return { kind: 'ok' };
  }
  if (versions.length === 0) {
    cx.out(`# ${target.id}: no version kept yet in ${h.dir}\n`);
    return { kind: 'ok' };
  }
  const hold = h.holds.get();
  const live = versions[0];
  const rows = versions.map((v) => [
    String(v.n),
    String(v.revision),
    v.time,
    v.digest.slice(0, 12),
    [v === live ? 'live' : '', v === live && hold ? 'held' : '', v.note ?? ''].filter(Boolean).join(', '),
  ]);
  cx.out(table(['VERSION', 'REVISION', 'APPLIED', 'DIGEST', ''], rows));
  if (hold) cx.out(`held at version ${hold.of ?? hold.version} by reconfig rollback since ${hold.since}, until the data changes\n`);
  return { kind: 'ok' };
}

export async function rollback(plan: RollbackPlan, cx: ModeContext): Promise<RunResult> {
  const { target: t, history: h, versions } = historyOf(plan, cx);
  const live = versions[0];
  if (!live) throw new UsageError(`target ${t.id} has no version kept yet in ${h.dir}`);
  const to = plan.to === undefined ? versions[1] : pick(versions, plan.to, h.dir);
  if (!to) throw new UsageError(`target ${t.id} has only its live version (${live.n}) in ${h.dir}: nothing earlier to roll back to`);
  if (to.files.length !== t.files.length || to.files.some((f, i) => f.dest !== t.files[i].dest)) {
    throw new UsageError(`version ${to.n} of ${t.id} holds ${to.files.map((f) => f.dest).join(', ')}, but the target now writes ${t.files.map((f) => f.dest).join(', ')}`);
  }
  if (to.digest === live.digest) throw new UsageError(`version ${to.n} of ${t.id} holds what is live already (version ${live.n})`);
  // What the agent renders now: what was live, or what an earlier rollback by hand held against.
  const before = h.holds.get();
  const against = before?.against ?? live.digest;
  // What was rolled back from: the revision of the data live before any rollback by hand, kept across a second one.
  const from = before ? before.from : live.revision;
  const contents = h.contents(to).map((b) => b.toString('utf8'));
  const log = cx.log.child({ target: t.id, version: to.n });
  if (!hasReload(t)) log.warn(`target ${t.id} has no reload of its own (in sidecar mode the agent signals its program): nothing will load version ${to.n} until something reloads it`);
  // Held before the files change, so that a running agent that applies meanwhile (a resync, a SIGHUP) leaves them.
  const since = new Date().toISOString();
  h.holds.set({ version: to.n, of: to.n, against, since, from });
  let res;
  try {
    res = await applyVerified(t, contents, {
      onOutput: (stage, output) => {
        if (output.trim()) log.debug({ stage, output }, `${stage}${stage === 'verify' ? '' : 'cmd'} output`);
      },
    });
  } catch (err) {
    if (before) h.holds.set(before);
    else h.holds.clear();
    const error = err instanceof TargetError ? err : new TargetError(t.id, 'internal', err);
    const cause = error.cause as { output?: string; code?: number | null } | undefined;
    const back = error.cause instanceof VerifyError && error.cause.rolledBack;
    log.error(
      { stage: error.stage, err: errorMessage(error.cause), exitCode: cause?.code, output: cause?.output },
      back ? `version ${to.n} failed the verify; the files live before are back` : `the rollback to version ${to.n} failed at ${error.stage}; nothing is held`,
    );
    return { kind: 'targets-failed' };
  }
  try {
    const kept = await h.record(t.files.map((f) => f.dest), to.revision, `rollback to ${to.n}`);
    if (kept) h.holds.set({ version: kept.n, of: to.n, against, since, from });
  } catch (err) {
    // The files are version n's and held as such; only the history's own copy is missing.
    log.warn({ err: errorMessage(err) }, `the files are version ${to.n}'s and held there, but the history could not keep them as a new version: ${errorMessage(err)}`);
  }
  log.info({ changed: res.changed, reloaded: res.reloaded, verified: res.verified || undefined }, `rolled back to version ${to.n} (revision ${to.revision}); held there until the data changes`);
  return { kind: 'ok' };
}

/**
 * One apply of a target and how it is told: render, apply (apply/verify.ts: the pipeline, then the verify and a
 * rollback), then the log line, the observers and the outcome for --onetime. A failure never throws out of
 * here; a failure that is not a TargetError is a bug in reconfig (stage `internal`), logged with its stack.
 */
import { digestOf, History } from '../apply/history';
import { hasReload } from '../apply/pipeline';
import { applyVerified, type Clock } from '../apply/verify';
import type { Target } from '../target';
import { TargetError, VerifyError, errorMessage } from '../errors';
import type { Logger } from '../log';
import type { Observer } from './ports';

export interface Outcome {
  id: string;
  ok: boolean;
  changed: boolean;
  reloaded: boolean;
  revision: number;
  /** The verify failed and the previous files are back (a failure: ok is false). */
  rolledBack?: boolean;
  error?: TargetError;
}

/**
 * How the target stands after its last apply: `reload-owed` when the files are in place but their reload failed
 * (the next apply reloads even if the bytes are unchanged), `failing` after any other failure.
 */
export type Standing = 'new' | 'ok' | 'failing' | 'reload-owed';

/** What a runner carries from one apply to the next. */
export interface Carried {
  standing: Standing;
  /**
   * The digest of a render whose verify failed, and that failure: the same bytes are not applied again (no
   * reload loop) until the data renders differently.
   */
  refused?: { digest: string; outcome: Outcome };
}

export interface ReportContext {
  notreally: boolean;
  skipReload?: boolean;
  log: Logger;
  observer: Observer;
  print: (text: string) => void;
  verifyClock?: Clock;
  /** Ends a verify early: the agent is stopping (the last result stands, nothing is rolled back). */
  signal?: AbortSignal;
  /** Sidecar mode: the program's signal, as the reload of a target with a verify and no reload of its own. */
  programReload?: () => void;
}

export async function applyAndReport(
  t: Target,
  revision: number,
  render: () => Promise<string[]>,
  carried: Carried,
  ctx: ReportContext,
): Promise<Outcome & Carried> {
  const { log, observer } = ctx;
  const { standing } = carried;
  const started = performance.now();
  let digest: string | undefined;
  try {
    const contents = await render();
    // Only a verify or a history compares renders by their digest: other targets never pay for hashing their files.
    digest = t.verify || t.history ? digestOf(contents) : undefined;
    const history = t.history && !ctx.notreally ? new History(t.history.dir, t.history.keep) : undefined;
    const refused = carried.refused ?? (history && digest !== undefined ? remembered(t, history, digest, revision, ctx) : undefined);
    if (refused && refused.digest === digest && !ctx.notreally) {
      // The verify refused exactly these bytes: wait for data that renders differently.
      log.debug('the same render the verify refused; not applied again');
      // A refusal remembered from before a restart is this runner's first outcome: it has tried (ready waits for that).
      return { ...refused.outcome, revision, standing: standing === 'new' ? 'failing' : standing, refused };
    }
    const held = history && digest !== undefined ? holding(history, digest, ctx) : undefined;
    if (held) {
      observer.applied(t.id, false, revision, held.content, held.note, held.from);
      return { id: t.id, ok: true, changed: false, reloaded: false, revision, standing: standing === 'reload-owed' ? standing : 'ok' };
    }
    const res = await applyVerified(t, contents, {
      notreally: ctx.notreally,
      skipReload: ctx.skipReload,
      reloadPending: standing === 'reload-owed',
      clock: ctx.verifyClock,
      signal: ctx.signal,
      // The verify must see the program on the new files: signal it now rather than with the batch.
      programReload: t.verify && !hasReload(t) ? ctx.programReload : undefined,
      onOutput: (stage, output) => {
        if (output.trim()) log.debug({ stage, output }, `${stage}${stage === 'verify' ? '' : 'cmd'} output`);
      },
    });
    if (history) {
      await keepVersion(history, t.files.map((f) => f.dest), revision, ctx);
      if (digest !== undefined) forget(history);
    }
    observer.applied(t.id, res.changed, revision, t.files.length === 1 ? contents[0] : contents.join(''));
    const ms = Math.round((performance.now() - started) * 10) / 10;
    if (standing === 'failing' || standing === 'reload-owed' || carried.refused) log.info('target recovered');
    if (ctx.notreally) {
      ctx.print(res.diff ?? `# ${t.id}: ${t.files.map((f) => f.dest).join(', ')} unchanged\n`);
      log.info({ changed: res.changed }, res.changed ? 'would change (not really)' : 'unchanged');
    } else if (res.changed || res.reloaded) {
      log.info({ changed: res.changed, reloaded: res.reloaded, verified: res.verified || undefined, ms }, res.changed ? 'applied' : 'reloaded');
    } else {
      log.debug('unchanged');
    }
    return { id: t.id, ok: true, changed: res.changed, reloaded: res.reloaded, revision, standing: 'ok' };
  } catch (err) {
    // Every stage wraps its own failures; anything else is a bug in reconfig.
    const error = err instanceof TargetError ? err : new TargetError(t.id, 'internal', err);
    const cause = error.cause as { output?: string; code?: number | null } | undefined;
    const rolledBack = error.cause instanceof VerifyError && error.cause.rolledBack;
    if (rolledBack) {
      observer.rolledBack(t.id, revision, errorMessage(error.cause), (error.cause as VerifyError).output);
      log.error({ stage: error.stage, err: errorMessage(error.cause), output: cause?.output }, 'verify failed; rolled back to the previous files');
    } else {
      observer.failed(t.id, error.stage, errorMessage(error.cause));
      if (error.stage === 'internal') {
        log.fatal({ stage: error.stage, err: error.cause }, `internal error (a bug in reconfig); the target keeps its bytes: ${errorMessage(error.cause)}`);
      } else if (error.cause instanceof VerifyError) {
        const previous = error.cause.previous;
        log.error({ stage: error.stage, err: errorMessage(error.cause), output: error.cause.output, previousOutput: previous?.output }, 'verify failed on the new files and on the previous ones; the previous files stay');
      } else {
        const what = error.stage === 'hold' ? 'held' : `${error.stage} failed`;
        log.error(
          { stage: error.stage, err: errorMessage(error.cause), exitCode: cause?.code, output: cause?.output },
          `${what}; ${error.stage === 'reload' ? 'the new file stays' : 'the target keeps its bytes'}`,
        );
      }
    }
    // The files are in place but the daemon may not have read them: reload again next time.
    const next: Standing = error.stage === 'reload' || standing === 'reload-owed' ? 'reload-owed' : 'failing';
    const outcome: Outcome = { id: t.id, ok: false, changed: false, reloaded: false, revision, rolledBack: rolledBack || undefined, error };
    // A verify failure (rolled back, or not) is remembered by the render's digest: never a reload loop.
    const refused = error.stage === 'verify' && digest !== undefined ? { digest, outcome } : undefined;
    if (refused && t.history && !ctx.notreally) remember(new History(t.history.dir, t.history.keep), refused, ctx);
    return { ...outcome, standing: next, refused };
  }
}

/**
 * A rollback by hand (`reconfig rollback`) holds the target at its version while the data renders what it
 * rendered then (`against`); data that renders differently releases it. Undefined: not held (any more).
 */
function holding(history: History, digest: string, ctx: ReportContext): { content: string; note: string; from?: number } | undefined {
  // A state directory that cannot be read or written is the operator's to mend, never a reason to fail the apply.
  try {
    const hold = history.holds.get();
    if (!hold) return undefined;
    const of = hold.of ?? hold.version;
    if (hold.against !== digest) {
      history.holds.clear();
      ctx.log.info({ version: of }, `the data changed: the rollback by hand to version ${of} is released`);
      return undefined;
    }
    const note = `held at version ${of} by reconfig rollback (since ${hold.since}) until its data changes`;
    ctx.log.info({ version: of }, note);
    const v = history.list().find((x) => x.n === hold.version);
    return { content: v ? history.contents(v).join('') : '', note, from: hold.from };
  } catch (err) {
    ctx.log.warn({ err: errorMessage(err) }, `the hold of a rollback by hand could not be read or released: ${errorMessage(err)}`);
    return undefined;
  }
}

/** Keeps the files now live as a version; a failure to keep it is told, and never fails the apply. */
async function keepVersion(history: History, dests: readonly string[], revision: number, ctx: ReportContext): Promise<void> {
  try {
    const v = await history.record(dests, revision);
    if (v) ctx.log.debug({ version: v.n }, `kept as version ${v.n} in ${history.dir}`);
  } catch (err) {
    ctx.log.warn({ err: errorMessage(err) }, `the history could not keep this version: ${errorMessage(err)}`);
  }
}

/**
 * With a history, a refusal outlives the runner (SIGHUP, a restart): the render the verify refused before is not
 * applied, reloaded and rolled back once more. Told once to the observers, as a failure at stage `verify`.
 */
function remembered(t: Target, history: History, digest: string, revision: number, ctx: ReportContext): Carried['refused'] {
  const r = history.refusals.get();
  if (!r || r.digest !== digest) return undefined;
  const message = `${r.message} (refused at revision ${r.revision}, ${r.since}; remembered in ${history.dir})`;
  const outcome: Outcome = {
    id: t.id,
    ok: false,
    changed: false,
    reloaded: false,
    revision,
    rolledBack: r.rolledBack || undefined,
    error: new TargetError(t.id, 'verify', new VerifyError(message, r.rolledBack, '')),
  };
  ctx.observer.failed(t.id, 'verify', message);
  ctx.log.warn({ stage: 'verify' }, `the verify refused this render before; not applied again until the data changes: ${r.message}`);
  return { digest, outcome };
}

function remember(history: History, refused: NonNullable<Carried['refused']>, ctx: ReportContext): void {
  try {
    const cause = refused.outcome.error?.cause;
    history.refusals.set({
      digest: refused.digest,
      message: errorMessage(cause),
      rolledBack: refused.outcome.rolledBack === true,
      revision: refused.outcome.revision,
      since: new Date().toISOString(),
    });
  } catch (err) {
    ctx.log.warn({ err: errorMessage(err) }, `the refusal could not be kept in the history: ${errorMessage(err)}`);
  }
}

function forget(history: History): void {
  try {
    history.refusals.clear();
  } catch {
    // Nothing to forget, or a state directory gone read-only: the next apply says so when it keeps its version.
  }
}

/**
 * After a reload, the target's health check: `verify.cmd` through /bin/sh (with the target's timeout, its
 * output logged), every `every` until it exits 0 or `within` has passed. When it fails on the new files, they
 * are rolled back (every file to the bytes, mode and owner it had before this apply), the reload runs again,
 * and the verify runs again on the old files: Nomad's auto_revert, for a config file.
 */
import { CommandError, TargetError, VerifyError, errorMessage } from '../errors';
import type { Verify } from '../target';
import { runCommand } from './command';
import { applyTarget, reload, step, type ApplyOptions, type ApplyResult, type T } from './pipeline';
import { clearJournal } from './journal';
import { restoreAll } from './set';

/** How the verify's loop tells time and waits (tests pass a fake clock). */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    }),
};

export interface VerifyOptions extends ApplyOptions {
  clock?: Clock;
  /** Ends a verify loop early (the agent is stopping); the last result then stands. */
  signal?: AbortSignal;
}

/** The verify's outcome: passed, or the last failure and how many runs it took. */
export type VerifyResult =
  | { ok: true; aborted?: false; output: string; runs: number }
  | { ok: false; aborted?: false; error: CommandError; runs: number }
  | { ok: false; aborted: true; runs: number };

/** Runs `v.cmd` until it exits 0 or `v.withinMs` has passed (at least once). */
export async function runVerify(t: Pick<T, 'dest' | 'timeoutMs'>, v: Verify, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const clock = opts.clock ?? realClock;
  const started = clock.now();
  for (let runs = 1; ; runs++) {
    try {
      const { output } = await runCommand('verify', v.cmd, { env: { RECONFIG_DEST: t.dest }, timeoutMs: t.timeoutMs });
      opts.onOutput?.('verify', output);
      return { ok: true, output, runs };
    } catch (err) {
      const error = err instanceof CommandError ? err : new CommandError('verify', v.cmd, null, null, errorMessage(err), false);
      if (opts.signal?.aborted) return { ok: false, aborted: true, runs };
      if (clock.now() - started + v.everyMs > v.withinMs) return { ok: false, error, runs };
      await clock.sleep(v.everyMs, opts.signal);
      if (opts.signal?.aborted) return { ok: false, aborted: true, runs };
    }
  }
}

export interface VerifiedResult extends ApplyResult {
  /** The verify ran after this apply and passed. */
  verified: boolean;
}

/** A failure's own words: a TargetError's cause, without its "target <id>: " prefix. */
const why = (err: unknown): string => errorMessage(err instanceof TargetError ? err.cause : err);

/**
 * applyTarget, then, when the target has a verify and the apply reloaded (or changed) its files, the verify. A
 * failed verify rolls the files back and throws TargetError at stage `verify` whose VerifyError says whether the
 * previous files passed (rolledBack) or failed too (then they stay: they were live before). The swap journal
 * stays until the verify has ended, so a crash during it makes the next start reload and verify again.
 *
 * There is nothing to roll back to when this apply changed no file (a reload that was owed, after a failed
 * reload or a crash before one): the verify's failure is then reported as it is. If putting the old files back
 * or reloading them fails, the error is at stage `swap` or `reload` (a reload owed), never a remembered refusal.
 */
export async function applyVerified(t: T & { verify?: Verify }, contents: readonly string[], opts: VerifyOptions = {}): Promise<VerifiedResult> {
  const v = t.verify;
  const verifying = v !== undefined && !opts.notreally && !opts.skipReload;
  const res = await applyTarget(t, contents, { ...opts, keepJournal: verifying });
  if (!verifying || !v || (!res.changed && !res.reloaded)) return { ...res, verified: false };
  const first = await runVerify(t, v, opts);
  // Stopping: the last result stands; the journal stays, so the next start reloads and verifies again.
  if (first.aborted) return { ...res, verified: false };
  const done = (): Promise<void> => step(t, 'verify', () => clearJournal(t.dest));
  if (first.ok) {
    await done();
    return { ...res, verified: true };
  }
  const failure = `verify \`${v.cmd}\` failed ${first.runs} time(s) within ${formatWithin(v.withinMs)}: ${why(first.error)}`;
  if (!res.changed) {
    await done();
    throw new TargetError(t.id, 'verify', new VerifyError(`${failure}; the files were already in place (a reload that was owed), so there is nothing to roll back to`, false, first.error.output, undefined, { cause: first.error }));
  }
  await step(t, 'swap', () => restoreAll(res.entries)).catch((err: unknown) => {
    throw new TargetError(t.id, 'swap', new VerifyError(`${failure}; then putting the previous files back failed: ${why(err)}`, false, first.error.output, undefined, { cause: err }));
  });
  if (res.reloaded) {
    await reload(t, opts).catch((err: unknown) => {
      // The journal stays: the daemon may still run the refused files, and the reload is owed.
      throw new TargetError(t.id, 'reload', new VerifyError(`${failure}; the previous files are back, but reloading them failed: ${why(err)}`, false, first.error.output, undefined, { cause: err }));
    });
  }
  const again = await runVerify(t, v, opts);
  await done();
  if (again.ok || again.aborted) {
    throw new TargetError(t.id, 'verify', new VerifyError(`${failure}; rolled back: the previous files are back, reloaded, and pass the verify`, true, first.error.output, undefined, { cause: first.error }));
  }
  throw new TargetError(
    t.id,
    'verify',
    new VerifyError(`${failure}; the previous files are back but fail it too (${why(again.error)}); they stay, as they were live before`, false, first.error.output, again.error, { cause: first.error }),
  );
}

function formatWithin(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

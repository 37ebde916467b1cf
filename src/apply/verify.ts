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
export type VerifyResult = { ok: true; output: string; runs: number } | { ok: false; error: CommandError; runs: number };

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
      if (clock.now() - started + v.everyMs > v.withinMs || opts.signal?.aborted) return { ok: false, error, runs };
      await clock.sleep(v.everyMs, opts.signal);
    }
  }
}

export interface VerifiedResult extends ApplyResult {
  /** The verify ran after this apply and passed. */
  verified: boolean;
}

/**
 * applyTarget, then, when the target has a verify and the apply changed its files, the verify. A failed verify
 * rolls the files back and throws TargetError at stage `verify` whose VerifyError says whether the previous files
 * passed (rolledBack) or failed too (then they stay: they were live before).
 */
export async function applyVerified(t: T & { verify?: Verify }, contents: readonly string[], opts: VerifyOptions = {}): Promise<VerifiedResult> {
  const res = await applyTarget(t, contents, opts);
  const v = t.verify;
  if (!v || !res.changed || opts.notreally || opts.skipReload) return { ...res, verified: false };
  const first = await runVerify(t, v, opts);
  if (first.ok) return { ...res, verified: true };
  const why = `verify \`${v.cmd}\` failed ${first.runs} time(s) within ${v.withinMs} ms: ${first.error.message}`;
  await step(t, 'verify', () => restoreAll(res.entries)).catch((err: unknown) => {
    throw new TargetError(t.id, 'verify', new VerifyError(`${why}; then putting the previous files back failed: ${errorMessage(err)}`, false, first.error.output, undefined, { cause: err }));
  });
  if (res.reloaded || t.reloadcmd !== undefined || t.reloadsignal !== undefined) {
    await reload(t, opts).catch((err: unknown) => {
      throw new TargetError(t.id, 'verify', new VerifyError(`${why}; the previous files are back, but reloading them failed: ${errorMessage(err)}`, false, first.error.output, undefined, { cause: err }));
    });
  }
  const again = await runVerify(t, v, opts);
  if (again.ok) {
    throw new TargetError(t.id, 'verify', new VerifyError(`${why}; rolled back: the previous files are back, reloaded, and pass the verify`, true, first.error.output, undefined, { cause: first.error }));
  }
  throw new TargetError(
    t.id,
    'verify',
    new VerifyError(`${why}; the previous files are back but fail it too (${again.error.message}); they stay, as they were live before`, false, first.error.output, again.error, { cause: first.error }),
  );
}

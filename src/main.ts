/**
 * The one place that exits: runs the plan's mode (src/modes/, one file each) and turns how it ended into the
 * exit code (see ExitCode), logging a failure once.
 */
import { access } from 'node:fs';
import { ConfigError, ExitCode, ReconfigError, UsageError, errorMessage, type RunResult } from './errors';
import { createLogger, logProblems, type Logger } from './log';
import type { ModeContext } from './modes/context';
import type { Plan } from './modes/plan';
import { HupRelay } from './signals';

/** Runs `plan` and exits the process with the right code. */
export async function main(plan: Plan): Promise<never> {
  // First thing: a SIGHUP while reconfig is still starting must not kill it (see signals.ts).
  const hups = new HupRelay();
  // libuv sizes its thread pool at the first use, which is after this (the log writes synchronously): --onetime's
  // file syncs run 32 targets at once (agent/once.ts), and 4 threads would take them four at a time. Not for the
  // watching agent, which syncs one apply at a time. A value set by the operator stands. The pool is started at
  // once and the variable taken back, so that the commands the targets run do not inherit it.
  if (plan.mode === 'onetime' && process.env.UV_THREADPOOL_SIZE === undefined) {
    process.env.UV_THREADPOOL_SIZE = '16';
    await new Promise<void>((resolve) => access('/', () => resolve()));
    delete process.env.UV_THREADPOOL_SIZE;
  }
  const log = createLogger(plan.log);
  plan.warnings.attach((msg) => log.warn(msg));
  const cx: ModeContext = {
    log,
    hups,
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    env: process.env,
  };
  const result = await runMode(plan, cx).catch((error: unknown): RunResult => ({ kind: 'failed', error }));
  process.exit(exitCode(result, log, cx.err));
}

/** Each mode loads only when it runs: --onetime never pays for the gRPC stack, validate for neither. */
async function runMode(plan: Plan, cx: ModeContext): Promise<RunResult> {
  switch (plan.mode) {
    case 'watch':
      return (await import('./modes/watch')).watch(plan, cx);
    case 'sidecar':
      return (await import('./modes/sidecar')).sidecar(plan, cx);
    case 'onetime':
      return (await import('./modes/onetime')).onetime(plan, cx);
    case 'fleet':
      return (await import('./modes/fleet')).fleet(plan, cx);
    case 'validate':
      return (await import('./modes/validate')).validate(plan, cx);
    case 'render':
      return (await import('./modes/render')).render(plan, cx);
    case 'import-confd':
      return (await import('./modes/import')).importFromConfd(plan, cx);
    case 'history':
      return (await import('./modes/history')).history(plan, cx);
    case 'rollback':
      return (await import('./modes/history')).rollback(plan, cx);
  }
}

/** The one place where a result becomes an exit code (see ExitCode); a failure is logged here. */
function exitCode(result: RunResult, log: Logger, err: (text: string) => void): number {
  switch (result.kind) {
    case 'ok':
      return ExitCode.ok;
    case 'targets-failed':
      return ExitCode.targetsFailed;
    case 'invalid':
      return ExitCode.config;
    case 'internal':
      return ExitCode.internal;
    case 'program-exited':
      return result.code;
    case 'failed':
      return report(result.error, log, err);
  }
}

/** Logs a failure and gives its exit code: a ReconfigError's own, else 70 (a bug) with its stack. */
function report(err: unknown, log: Logger, stderr: (text: string) => void): number {
  // A usage error is for the person who typed the command: a plain line, as for a bad flag.
  if (err instanceof UsageError) {
    stderr(`reconfig: ${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof ConfigError) {
    logProblems(err.problems, log);
    log.error(`configuration invalid (${err.problems.length} problem(s)); nothing was changed`);
    return err.exitCode;
  }
  if (err instanceof ReconfigError) {
    // The message says it all; what lies beneath (a gRPC status, an errno) goes in `cause`, not in a copy of it.
    const cause = err.cause === undefined ? undefined : errorMessage(err.cause);
    log.error(cause === undefined || err.message.includes(cause) ? {} : { cause }, err.message);
    return err.exitCode;
  }
  log.fatal({ err }, `unexpected error: ${errorMessage(err)}`);
  return ExitCode.internal;
}

/**
 * The one place that exits. Loads conf.d, then runs --onetime or the watching agent; turns errors into exit
 * codes (see ExitCode) and handles signals: SIGTERM/SIGINT stop after in-flight applies, SIGHUP re-reads conf.d.
 */
import { formatReport, runOnce } from './agent/onetime';
import type { RunnerContext } from './agent/runner';
import { loadTargets } from './config/load';
import { parseDuration } from './config/duration';
import type { Target } from './config/target';
import { ConfigError, ExitCode, ReconfigError, UsageError, errorMessage, type RunResult } from './errors';
import { connect, sidecar, watch } from './daemon';
import type { Reader } from './etcd/store';
import { connectionSettings, type ConnectionFlags, type ConnectionSettings } from './etcd/settings';
import { createLogger, logProblems, type LogFormat, type Logger } from './log';
import { HupRelay } from './signals';

export interface Options extends ConnectionFlags {
  cfgdir: string;
  prefix: string;
  onetime: boolean;
  notreally: boolean;
  debug: boolean;
  /** A duration such as "1h"; "0" turns the periodic resync off. */
  resync: string;
  /** Sidecar mode: the program (and its arguments) to start after the first render; empty otherwise. */
  program: string[];
  /** Sidecar mode: sent to the program after each batch of applied changes. */
  reloadSignal: NodeJS.Signals;
  /** host:port for /metrics and /healthz; off when absent. */
  listen?: string;
  /** Default: pretty on a terminal, JSON otherwise. */
  logFormat?: LogFormat;
}

/** Runs reconfig and exits the process with the right code. */
export async function run(opts: Options): Promise<never> {
  // First thing: a SIGHUP while reconfig is still starting must not kill it (see signals.ts).
  const hups = new HupRelay();
  const log = createLogger({ debug: opts.debug, format: opts.logFormat });
  process.exit(exitCode(await runAgent(opts, log, hups).catch((error: unknown) => failed(error)), log));
}

const failed = (error: unknown): RunResult => ({ kind: 'failed', error });

/** The one place where a result becomes an exit code (see ExitCode); a failure is logged here. */
function exitCode(result: RunResult, log: Logger): number {
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
      return report(result.error, log);
  }
}

/** `validate` and `render`: no etcd, no signals; their own output, and the same error reporting and exits. */
export async function runCommand(command: 'validate' | 'render', opts: { cfgdir: string; prefix: string; data?: string; id?: string }): Promise<never> {
  const log = createLogger({});
  const out = (t: string): boolean => process.stdout.write(t);
  const err = (t: string): boolean => process.stderr.write(t);
  const result = await (async (): Promise<RunResult> => {
    const prefix = normalisePrefix(opts.prefix);
    if (command === 'validate') {
      const { validate } = await import('./commands/validate');
      return validate({ cfgdir: opts.cfgdir, prefix }, out, err);
    }
    const { renderOne } = await import('./commands/render');
    return renderOne(opts.id ?? '', { cfgdir: opts.cfgdir, prefix, data: opts.data ?? '' }, out, err);
  })().catch((error: unknown) => failed(error));
  process.exit(exitCode(result, log));
}

/** Logs a failure and gives its exit code: a ReconfigError's own, else 70 (a bug) with its stack. */
function report(err: unknown, log: Logger): number {
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

export function normalisePrefix(prefix: string): string {
  if (prefix === '') return '';
  if (!prefix.startsWith('/')) throw new UsageError(`--prefix must begin with /: ${JSON.stringify(prefix)}`);
  return prefix.replace(/\/+$/, '');
}

function parseResync(text: string): number {
  if (text === '0') return 0;
  try {
    return parseDuration(text);
  } catch (err) {
    throw new UsageError(`--resync: ${errorMessage(err)}`);
  }
}

/** --onetime reads through etcd's JSON gateway: no gRPC stack to load for one read. */
async function connectOnce(settings: ConnectionSettings, log: Logger): Promise<Reader> {
  const { GatewayReader } = await import('./etcd/gateway');
  return new GatewayReader(settings, { warn: (msg) => log.warn(msg) });
}

async function runAgent(opts: Options, log: Logger, hups: HupRelay): Promise<RunResult> {
  const prefix = normalisePrefix(opts.prefix);
  const resyncMs = parseResync(opts.resync);
  const settings = connectionSettings(opts, process.env, (msg) => log.warn(msg));
  const load = (): Target[] => loadTargets({ cfgdir: opts.cfgdir, prefix });
  const targets = load();
  const ctx: RunnerContext = {
    prefix,
    notreally: opts.notreally,
    log,
    print: (text) => process.stdout.write(text),
  };
  log.info({ targets: targets.length, cfgdir: opts.cfgdir, notreally: opts.notreally }, 'configuration loaded');
  if (opts.listen !== undefined) {
    if (opts.onetime) throw new UsageError('--listen serves a running agent; it does nothing with --onetime');
    const { Metrics } = await import('./ops/metrics');
    const { serve } = await import('./ops/server');
    const metrics = new Metrics(targets.map((t) => t.id));
    await serve(opts.listen, metrics, log);
    ctx.observer = metrics;
  }
  if (opts.program.length > 0) {
    if (opts.onetime || opts.notreally) throw new UsageError('sidecar mode (-- program) does not go with --onetime or --notreally');
    return sidecar({ settings, targets, ctx, load, log, resyncMs, hups }, opts.program, opts.reloadSignal);
  }
  if (opts.onetime) {
    const reader = await connectOnce(settings, log);
    try {
      const rep = await runOnce(reader, targets, ctx);
      process.stdout.write(formatReport(rep, targets, opts.notreally));
      if (rep.outcomes.some((o) => o.error?.stage === 'internal')) return { kind: 'internal' };
      return rep.outcomes.every((o) => o.ok) ? { kind: 'ok' } : { kind: 'targets-failed' };
    } finally {
      reader.close();
    }
  }
  return watch({ store: await connect(settings, log), targets, ctx, load, log, resyncMs, hups });
}

/**
 * The one place that exits. Loads conf.d, then runs --onetime or the watching agent; turns errors into exit
 * codes (see ExitCode) and handles signals: SIGTERM/SIGINT stop after in-flight applies, SIGHUP re-reads conf.d.
 */
import { formatReport, runOnce } from './agent/onetime';
import type { RunnerContext } from './agent/runner';
import { loadTargets } from './config/load';
import { parseDuration } from './config/duration';
import type { Target } from './target';
import { ConfigError, ExitCode, ReconfigError, UsageError, errorMessage, type RunResult } from './errors';
import { connect, sidecar, watch } from './daemon';
import type { EtcdStore } from './etcd/client';
import { hostname } from 'node:os';
import type { Reader } from './etcd/store';
import { connectionSettings, type ConnectionFlags, type ConnectionSettings } from './etcd/settings';
import { createLogger, logProblems, type LogFormat, type Logger } from './log';
import { HupRelay } from './signals';
import { version } from './version';

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
  /** Keep a fleet report under this prefix (`<prefix>/<reportName>`); off when absent. */
  report?: string;
  reportName?: string;
}

/** The report key's lease: a dead host's key goes this long after its last keep-alive. */
const REPORT_TTL_SECONDS = 30;

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

/** `reconfig fleet`'s flags: where the reports are, and how to reach etcd. */
export interface FleetFlags extends ConnectionFlags {
  report?: string;
  json?: boolean;
  waitRevision?: number;
  timeout: string;
  target?: string[];
}

/** `reconfig fleet`: reads the fleet report (through the JSON gateway, as --onetime does). */
export async function runFleet(flags: FleetFlags): Promise<never> {
  const log = createLogger({});
  const result = await (async (): Promise<RunResult> => {
    if (flags.report === undefined) {
      throw new UsageError(flags.waitRevision === undefined ? 'fleet needs --report <prefix>' : '--wait-revision needs --report <prefix>');
    }
    let timeoutMs: number;
    try {
      timeoutMs = parseDuration(flags.timeout);
    } catch (err) {
      throw new UsageError(`--timeout: ${errorMessage(err)}`, { cause: err });
    }
    const reader = await connectOnce(connectionSettings(flags, process.env, (msg) => log.warn(msg)), log);
    try {
      const { fleet } = await import('./commands/fleet');
      const write = (stream: NodeJS.WriteStream) => (t: string): boolean => stream.write(t);
      const opts = { report: flags.report, json: flags.json ?? false, waitRevision: flags.waitRevision, timeoutMs, targets: flags.target };
      return await fleet(reader, opts, write(process.stdout), write(process.stderr));
    } finally {
      reader.close();
    }
  })().catch((error: unknown) => failed(error));
  process.exit(exitCode(result, log));
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
  if (opts.report !== undefined && opts.onetime) throw new UsageError('--report keeps a running agent\'s report; it does nothing with --onetime');
  if (opts.program.length > 0 && (opts.onetime || opts.notreally)) {
    throw new UsageError('sidecar mode (-- program) does not go with --onetime or --notreally');
  }
  if (!opts.onetime) {
    const store = await connect(settings, log);
    const onStop = opts.report === undefined ? undefined : await startReport(opts.report, opts.reportName, store, targets, ctx, log);
    const d = { store, targets, ctx, load, log, resyncMs, hups, onStop };
    return opts.program.length > 0 ? sidecar(d, opts.program, opts.reloadSignal) : watch(d);
  }
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

/**
 * --report: the fleet report as one more observer, its key on a lease through the store's connection.
 * Returns what to do before the agent stops: write the last state, then revoke the key.
 */
async function startReport(prefix: string, name: string | undefined, store: EtcdStore, targets: Target[], ctx: RunnerContext, log: Logger): Promise<() => Promise<void>> {
  const { FleetReporter } = await import('./agent/report');
  const { Presence } = await import('./etcd/presence');
  const { allOf } = await import('./agent/observer');
  const host = name ?? hostname();
  const key = `${prefix.replace(/\/+$/, '')}/${host}`;
  // Each refers to the other: the first write comes a turn later, once both exist.
  const reporter = new FleetReporter((json) => presence.write(json), { name: host, version }, targets.map((t) => t.id), log);
  const presence = new Presence(() => store.currentClient(), key, REPORT_TTL_SECONDS, () => reporter.rewrite());
  ctx.observer = ctx.observer ? allOf([ctx.observer, reporter]) : reporter;
  log.info({ key }, 'keeping a fleet report');
  return async () => {
    await reporter.close();
    await presence.close();
  };
}

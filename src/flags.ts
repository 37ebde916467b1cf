/**
 * Flags -> one checked Plan. cli.ts hands over what commander parsed; every check of a flag, and of flags that
 * do not go together, happens here, before anything runs: a UsageError names the flag, and cli.ts prints it.
 */
import { hostname } from 'node:os';
import { parseDuration } from './config/duration';
import { UsageError, errorMessage } from './errors';
import { connectionSettings, type ConnectionFlags } from './etcd/settings';
import type { LogFormat, LogLevel } from './log';
import { DEFAULT_STATE_DIR } from './config/read';
import {
  Warnings,
  type ConfigPlan,
  type FleetPlan,
  type HistoryPlan,
  type ImportPlan,
  type OnetimePlan,
  type Plan,
  type RenderPlan,
  type RollbackPlan,
  type SidecarPlan,
  type ValidatePlan,
  type WatchPlan,
} from './modes/plan';

/** The default run's flags, as commander gives them. */
export interface RunFlags extends ConnectionFlags, ConfigFlags {
  onetime: boolean;
  notreally: boolean;
  debug: boolean;
  /** A duration such as "1h"; "0" turns the periodic resync off. */
  resync: string;
  /** Sidecar mode: the program (and its arguments) after `--`; empty otherwise. */
  program: string[];
  reloadSignal: NodeJS.Signals;
  listen?: string;
  logFormat?: LogFormat;
  logLevel?: LogLevel;
  report?: string;
  reportName?: string;
  /** The agent's rollout wave (`--wave`, needs --report). */
  wave?: string;
}

export interface ConfigFlags {
  cfgdir: string;
  prefix: string;
  allowEmpty?: boolean;
  stateDir?: string;
}

/** `reconfig fleet`'s flags. */
export interface FleetFlags extends ConnectionFlags {
  report?: string;
  json?: boolean;
  waitRevision?: number;
  timeout: string;
  target?: string[];
  /** With `fleet promote`. */
  revision?: number;
}

export function normalisePrefix(prefix: string): string {
  if (prefix === '') return '';
  if (!prefix.startsWith('/')) throw new UsageError(`--prefix must begin with /: ${JSON.stringify(prefix)}`);
  return prefix.replace(/\/+$/, '');
}

function duration(flag: string, text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new UsageError(`${flag}: ${errorMessage(err)}`, { cause: err });
  }
}

function config(f: ConfigFlags): ConfigPlan {
  return { cfgdir: f.cfgdir, prefix: normalisePrefix(f.prefix), allowEmpty: f.allowEmpty === true, stateDir: f.stateDir ?? DEFAULT_STATE_DIR };
}

/** The default run: the watching agent, sidecar mode (a program after `--`) or --onetime. */
export function runPlan(f: RunFlags, env: NodeJS.ProcessEnv = process.env): WatchPlan | SidecarPlan | OnetimePlan {
  const warnings = new Warnings();
  const log = { debug: f.debug, format: f.logFormat, level: f.logLevel };
  const sidecar = f.program.length > 0;
  if (sidecar && (f.onetime || f.notreally)) throw new UsageError('sidecar mode (-- program) does not go with --onetime or --notreally');
  if (f.onetime && f.listen !== undefined) throw new UsageError('--listen serves a running agent; it does nothing with --onetime');
  if (f.onetime && f.wave !== undefined) throw new UsageError('--wave places a running agent in a rollout; it does nothing with --onetime');
  if (f.onetime && f.report !== undefined) throw new UsageError("--report keeps a running agent's report; it does nothing with --onetime");
  const resyncMs = f.resync === '0' ? 0 : duration('--resync', f.resync);
  const cfg = config(f);
  const connection = connectionSettings(f, env, warnings.warn);
  if (f.onetime) return { mode: 'onetime', log, warnings, config: cfg, connection, notreally: f.notreally };
  const wave = waveOf(f);
  const name = f.reportName ?? hostname();
  // `<report>/rollout/...` holds the rollouts (src/rollout/): no host may report there.
  if (f.report !== undefined && (name === 'rollout' || name === 'rollout-election')) {
    throw new UsageError(`--report-name: ${JSON.stringify(name)} is reserved for the rollout keys; name the host otherwise`);
  }
  // Waves need the watching agent's gates (src/rollout/), which sidecar mode does not wire.
  if (sidecar && f.wave !== undefined) throw new UsageError('sidecar mode (-- program) does not go with --wave: run the agent as a service for waves');
  const observers = {
    listen: f.listen,
    report: f.report === undefined ? undefined : { prefix: f.report.replace(/\/+$/, ''), name, wave },
  };
  const watch = { log, warnings, config: cfg, connection, resyncMs, observers };
  if (sidecar) return { ...watch, mode: 'sidecar', program: f.program, reloadSignal: f.reloadSignal };
  return { ...watch, mode: 'watch', notreally: f.notreally };
}

/** --wave N: a whole number, 0 by default; only with --report (the waves meet through the fleet report). */
function waveOf(f: RunFlags): number {
  if (f.wave === undefined) return 0;
  if (!/^\d+$/.test(f.wave)) throw new UsageError(`--wave: must be a whole number (0 for the canaries), not ${JSON.stringify(f.wave)}`);
  if (f.report === undefined) throw new UsageError('--wave needs --report <prefix>: the waves meet through the fleet report');
  return Number(f.wave);
}

export function fleetPlan(f: FleetFlags, env: NodeJS.ProcessEnv = process.env): FleetPlan {
  if (f.revision !== undefined) throw new UsageError('--revision goes with `fleet promote`');
  if (f.report === undefined) {
    throw new UsageError(f.waitRevision === undefined ? 'fleet needs --report <prefix>' : '--wait-revision needs --report <prefix>');
  }
  const timeoutMs = duration('--timeout', f.timeout);
  return { ...fleetCommon(f, f.report, env), json: f.json ?? false, waitRevision: f.waitRevision, timeoutMs };
}

/** What every `reconfig fleet` plan has: where etcd and the reports are, and the targets asked for. */
function fleetCommon(f: FleetFlags, report: string, env: NodeJS.ProcessEnv): Omit<FleetPlan, 'json' | 'timeoutMs'> {
  const warnings = new Warnings();
  return { mode: 'fleet', log: { debug: false }, warnings, connection: connectionSettings(f, env, warnings.warn), report, targets: f.target };
}

/** `fleet promote --revision R`, `fleet halt`, `fleet resume` [--target T...]: an operator's say in the rollouts. */
export function fleetControlPlan(action: string, f: FleetFlags, env: NodeJS.ProcessEnv = process.env): FleetPlan {
  if (action !== 'promote' && action !== 'halt' && action !== 'resume') {
    throw new UsageError(`fleet: unknown action ${JSON.stringify(action)} (the actions: promote, halt, resume)`);
  }
  if (f.report === undefined) throw new UsageError(`fleet ${action} needs --report <prefix>`);
  if (action === 'promote' && f.revision === undefined) throw new UsageError('fleet promote needs --revision <revision>: the revision every wave may apply now');
  if (action !== 'promote' && f.revision !== undefined) throw new UsageError(`fleet ${action} takes no --revision (it goes with promote)`);
  if (f.waitRevision !== undefined || f.json) throw new UsageError(`fleet ${action} goes with neither --wait-revision nor --json`);
  return {
    ...fleetCommon(f, f.report, env),
    json: false,
    timeoutMs: 0,
    control: action === 'promote' ? { action, revision: f.revision! } : { action },
  };
}

export function validatePlan(f: ConfigFlags): ValidatePlan {
  return { mode: 'validate', log: { debug: false }, warnings: new Warnings(), config: config(f) };
}

export function renderPlan(id: string, f: ConfigFlags & { data: string }): RenderPlan {
  return { mode: 'render', log: { debug: false }, warnings: new Warnings(), config: config(f), id, data: f.data };
}

export function importPlan(f: { confdir: string; out: string; dryRun?: boolean; force?: boolean }): ImportPlan {
  return { mode: 'import-confd', log: { debug: false }, warnings: new Warnings(), confdir: f.confdir, out: f.out, dryRun: f.dryRun === true, force: f.force === true };
}

/** `reconfig history <id> [--diff N]`. */
export function historyPlan(id: string, f: ConfigFlags & { diff?: number }): HistoryPlan {
  return { mode: 'history', log: { debug: false }, warnings: new Warnings(), config: config(f), id, diff: f.diff };
}

/** `reconfig rollback <id> [--to N]`: the log is the agent's, for the commands it runs. */
export function rollbackPlan(id: string, f: ConfigFlags & { to?: number; debug?: boolean; logFormat?: LogFormat }): RollbackPlan {
  return { mode: 'rollback', log: { debug: f.debug === true, format: f.logFormat }, warnings: new Warnings(), config: config(f), id, to: f.to };
}

export type { Plan };

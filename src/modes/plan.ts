/**
 * A plan: what one run of reconfig will do, decided and checked from the flags (flags.ts) before anything runs.
 * main.ts runs the plan's mode; each mode (one file here) turns its plan into a RunResult.
 */
import type { ConnectionSettings } from '../etcd/settings';
import type { LogFormat, LogLevel } from '../log';

/** Where the targets come from. */
export interface ConfigPlan {
  cfgdir: string;
  /** The global --prefix, normalised (no trailing slash; "" for none). */
  prefix: string;
  /** A conf.d with no target is fine (--allow-empty); otherwise it is an error naming what was ignored. */
  allowEmpty: boolean;
  /** --state-dir: where targets with `history` keep their versions. */
  stateDir: string;
}

export interface LogPlan {
  debug: boolean;
  /** Default: pretty on a terminal, JSON otherwise. */
  format?: LogFormat;
  /** --log-level; --debug wins. Default: info. */
  level?: LogLevel;
}

/** What hears the running agent besides its log. */
export interface ObserverPlan {
  /** host:port for /metrics and /healthz. */
  listen?: string;
  /** The fleet report: `<prefix>/<name>` on a lease. */
  report?: { prefix: string; name: string; wave: number };
}

/**
 * Warnings from building the plan (a password given on the command line) and from what it built (SRV discovery
 * warns as it resolves): held until main.ts attaches the logger, then passed straight on.
 */
export class Warnings {
  private held: string[] = [];
  private sink: ((message: string) => void) | null = null;

  readonly warn = (message: string): void => {
    if (this.sink) this.sink(message);
    else this.held.push(message);
  };

  attach(sink: (message: string) => void): void {
    this.sink = sink;
    for (const m of this.held) sink(m);
    this.held = [];
  }
}

interface Common {
  log: LogPlan;
  warnings: Warnings;
}

/** The watching agent (the systemd service). */
export interface WatchPlan extends Common {
  mode: 'watch';
  config: ConfigPlan;
  connection: ConnectionSettings;
  notreally: boolean;
  /** A fresh snapshot this often (ms); 0: never. */
  resyncMs: number;
  observers: ObserverPlan;
}

/** Sidecar mode: the agent above a program it starts after the first render. */
export interface SidecarPlan extends Omit<WatchPlan, 'mode' | 'notreally'> {
  mode: 'sidecar';
  program: string[];
  reloadSignal: NodeJS.Signals;
}

/** --onetime: every target once, a summary, an honest exit code. */
export interface OnetimePlan extends Common {
  mode: 'onetime';
  config: ConfigPlan;
  connection: ConnectionSettings;
  notreally: boolean;
}

/** `reconfig fleet`: the fleet report, or a wait for a revision. */
export interface FleetPlan extends Common {
  mode: 'fleet';
  connection: ConnectionSettings;
  report: string;
  json: boolean;
  waitRevision?: number;
  timeoutMs: number;
  targets?: string[];
  /** `fleet promote --revision R`, `fleet halt`, `fleet resume` (src/modes/fleet-control.ts); without: the view. */
  control?: { action: 'promote'; revision: number } | { action: 'halt' | 'resume' };
}

/** `reconfig validate`: conf.d and templates, with no etcd. */
export interface ValidatePlan extends Common {
  mode: 'validate';
  config: ConfigPlan;
}

/** `reconfig render <id> --data <file>`: one target to stdout, with no etcd. */
export interface RenderPlan extends Common {
  mode: 'render';
  config: ConfigPlan;
  id: string;
  data: string;
}

/** `reconfig import confd`: confd's resources and templates as targets and EJS templates. */
export interface ImportPlan extends Common {
  mode: 'import-confd';
  confdir: string;
  out: string;
  dryRun: boolean;
  force: boolean;
}

/** `reconfig history <id>`: a target's kept versions, or the diff of one against the live files. */
export interface HistoryPlan extends Common {
  mode: 'history';
  config: ConfigPlan;
  id: string;
  diff?: number;
}

/** `reconfig rollback <id>`: a kept version back through check, swap, reload and verify, held until the data changes. */
export interface RollbackPlan extends Common {
  mode: 'rollback';
  config: ConfigPlan;
  id: string;
  to?: number;
}

export type Plan = WatchPlan | SidecarPlan | OnetimePlan | FleetPlan | ValidatePlan | RenderPlan | ImportPlan | HistoryPlan | RollbackPlan;

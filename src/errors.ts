/**
 * The few error classes reconfig raises. Each message names the thing that failed (file and field, key,
 * endpoint, or command with its exit code), and `cause` is always passed on. Only main.ts turns them into
 * exit codes.
 */

/** Exit codes, documented in docs/operating.md and the man page. */
export const ExitCode = {
  ok: 0,
  /** --onetime: at least one target failed (render, check, swap, reload or minimum data). */
  targetsFailed: 1,
  /** Bad flags or an invalid conf.d: nothing was contacted. */
  config: 2,
  /** etcd could not be reached or refused us. */
  etcd: 3,
  /** A bug: an error we did not expect. */
  internal: 70,
} as const;

/**
 * How a mode or command ended. Only main.ts turns it into an exit code: `targets-failed` is 1, `invalid` (a
 * configuration whose problems were already printed) 2, `internal` (a bug already logged with its stack) 70,
 * `failed` the error's own code (70 for one that is not a ReconfigError), `program-exited` the sidecar program's.
 */
export type RunResult =
  | { kind: 'ok' }
  | { kind: 'targets-failed' }
  | { kind: 'invalid' }
  | { kind: 'internal' }
  | { kind: 'failed'; error: unknown }
  | { kind: 'program-exited'; code: number };

export class ReconfigError extends Error {
  readonly exitCode: number = ExitCode.internal;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A flag is wrong. */
export class UsageError extends ReconfigError {
  override readonly exitCode = ExitCode.config;
}

/** One problem in one configuration source, e.g. `conf.d/web.json: /recursive: must be boolean`. */
export interface ConfigProblem {
  file: string;
  message: string;
}

/** conf.d is invalid: every problem found in one pass, each naming its file. */
export class ConfigError extends ReconfigError {
  override readonly exitCode = ExitCode.config;
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map((p) => `${p.file}: ${p.message}`).join('\n'));
  }
}

/** A template failed to compile or to render; names the template and, where known, the line. */
export class TemplateError extends ReconfigError {
  constructor(
    readonly template: string,
    readonly line: number | undefined,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${template}${line === undefined ? '' : `:${line}`}: ${detail}`, options);
  }
}

/**
 * A check or reload command failed: names the command, its exit code (or signal) and the line of its output
 * that best says why (the first that reads as an error, e.g. haproxy's `[ALERT]` after its `[NOTICE]`s; else
 * the first). The whole output is in `output`, which the log carries once, in full. `note` ends the message.
 */
export class CommandError extends ReconfigError {
  constructor(
    readonly stage: 'check' | 'reload' | 'verify',
    readonly command: string,
    readonly code: number | null,
    readonly signal: string | null,
    readonly output: string,
    readonly timedOut: boolean,
    options: { cause?: unknown; note?: string } = {},
  ) {
    const how = timedOut ? 'timed out' : signal ? `was killed by ${signal}` : `exited ${code}`;
    const lines = output.trim().split('\n');
    const telling = lines.find((l) => /\b(alert|emerg|error|fatal)\b/i.test(l)) ?? lines[0];
    const shown = telling.length > 200 ? `${telling.slice(0, 200)}...` : telling;
    const more = lines.length > 1 ? ` (+${lines.length - 1} more line(s) in "output")` : '';
    const note = options.note ? `; ${options.note}` : '';
    super(`${stage}cmd \`${command}\` ${how}${shown ? `: ${shown}${more}` : ''}${note}`, { cause: options.cause });
  }
}

/**
 * A checkcmd refused the new file. Its bytes are kept at `refused` (`<target>.reconfig-refused`, mode 0600) so
 * that the operator can run the check on them by hand, and the message says where; if keeping them failed,
 * `refused` is undefined, `keepError` says why, and so does the message. `cause` is the command's own error.
 */
export class CheckError extends CommandError {
  constructor(
    failed: CommandError,
    readonly refused: string | undefined,
    readonly keepError?: unknown,
  ) {
    const note = refused ? `the refused file is kept as ${refused}` : `keeping the refused file failed too: ${errorMessage(keepError)}`;
    super('check', failed.command, failed.code, failed.signal, failed.output, failed.timedOut, { cause: failed, note });
  }
}

/**
 * The verify failed within its time after a reload. `rolledBack`: the previous files are back and pass it; else
 * they failed it too (`previous` says how) and stay, since they were live before.
 */
export class VerifyError extends ReconfigError {
  constructor(
    message: string,
    readonly rolledBack: boolean,
    /** The last run's output on the new files. */
    readonly output: string,
    /** The last run's failure on the previous files, when they failed too. */
    readonly previous?: CommandError,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A plugin threw, timed out or gave no object: a failed render that a change in etcd will not fix. */
export class PluginError extends ReconfigError {}

/** Writing the target failed (stage, chmod/chown, rename, fsync). */
export class ApplyError extends ReconfigError {}

/** The data did not pass a guard (minkeys, a `values` rule), so the target was held on purpose. */
export class HoldError extends ReconfigError {}

/** A key or value holds what must never reach a config file (a control character); the render fails. */
export class ValueError extends ReconfigError {}

/**
 * What went wrong with etcd. `unreachable` and `other` may pass (a restart, a moved member); `tls`, `auth` and
 * `dns` are misconfigurations that retrying will not fix, so a start-up that meets one of them gives up.
 */
export type EtcdFailure = 'unreachable' | 'tls' | 'auth' | 'dns' | 'other';

/** etcd could not be reached, or refused a request; names the endpoint(s). */
export class EtcdError extends ReconfigError {
  override readonly exitCode = ExitCode.etcd;
  readonly kind: EtcdFailure;
  constructor(message: string, options: { cause?: unknown; kind?: EtcdFailure } = {}) {
    super(message, options);
    this.kind = options.kind ?? 'other';
  }

  /** A misconfiguration rather than an outage. */
  get misconfigured(): boolean {
    return this.kind === 'tls' || this.kind === 'auth' || this.kind === 'dns';
  }
}

/** Wraps an error with the target it belongs to, keeping the original as cause. */
export class TargetError extends ReconfigError {
  constructor(
    readonly targetId: string,
    /** Where it failed; `internal` is a bug in reconfig itself, not a problem with the target. */
    readonly stage: 'read' | 'render' | 'stage' | 'check' | 'swap' | 'reload' | 'verify' | 'hold' | 'internal',
    cause: unknown,
  ) {
    super(`target ${targetId}: ${errorMessage(cause)}`, { cause });
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

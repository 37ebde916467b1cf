/**
 * Sidecar mode: reconfig starts the program itself, after the first full render, and signals it after each
 * applied change. Changes that land together (one `wait` window, or several targets in one burst) make one
 * signal: the signal goes out only once no runner has an apply pending or running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Logger } from '../log';
import type { Observer } from './ports';

export class Program {
  private readonly child: ChildProcess;
  /** The program's exit code; 128 + the signal's number when a signal ended it (as a shell reports it). */
  readonly exited: Promise<number>;

  constructor(
    readonly argv: readonly string[],
    private readonly log: Logger,
  ) {
    // stdin, stdout and stderr are the program's own: its output passes through untouched.
    this.child = spawn(argv[0], argv.slice(1), { stdio: 'inherit' });
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => {
        log.error({ program: argv[0], err: err.message }, `cannot start ${argv[0]}: ${err.message}`);
        resolve(127);
      });
      this.child.once('exit', (code, signal) => {
        const status = code ?? 128 + (signal ? constants.signals[signal] : 0);
        log.info({ program: argv[0], code, signal }, `${argv[0]} exited ${signal ? `on ${signal}` : `with code ${code}`}`);
        resolve(status);
      });
    });
    log.info({ program: argv[0], pid: this.child.pid }, `started ${argv.join(' ')}`);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  /** Sends `signal`; false when the program is not running. */
  signal(signal: NodeJS.Signals): boolean {
    if (!this.running) return false;
    try {
      return this.child.kill(signal);
    } catch (err) {
      this.log.warn(`cannot send ${signal} to ${this.argv[0]}: ${(err as Error).message}`);
      return false;
    }
  }
}

/**
 * An observer that collapses the changes of one burst into one call of `send`, once no runner is busy: a
 * target's file changed (applied, changed), then every runner settled.
 */
export class ChangeBatcher implements Observer {
  /** A file changed since the last signal. */
  private owed = false;
  private scheduled = false;

  constructor(
    private readonly busy: () => boolean,
    private readonly send: () => void,
    /** A target that signalled the program itself (it has a verify, which must run after the signal). */
    private readonly signalledItself: (id: string) => boolean = () => false,
  ) {}

  applied(id: string, changed: boolean): void {
    if (!changed || this.signalledItself(id)) return;
    this.owed = true;
    this.settled();
  }

  /** A runner has nothing more to do: if none is busy, the batch is complete. */
  settled(): void {
    if (!this.owed || this.scheduled) return;
    this.scheduled = true;
    // One turn later, so that runners triggered by the same events have marked themselves busy.
    setImmediate(() => {
      this.scheduled = false;
      if (!this.owed || this.busy()) return;
      this.owed = false;
      this.send();
    });
  }

  pending(): void {}
  failed(): void {}
  rolledBack(): void {}
  rendered(): void {}
  synced(): void {}
  disconnected(): void {}
  events(): void {}
  targets(): void {}
}

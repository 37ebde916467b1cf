/**
 * A running agent under the process's signals, until it is told to stop: SIGTERM and SIGINT stop it after its
 * in-flight applies, SIGHUP loads the targets again and swaps the set (an invalid new configuration keeps the
 * old set). In sidecar mode the stop signals go to the program instead, and the agent stops when it exits.
 */
import type { Agent } from '../agent/agent';
import type { Program } from '../agent/sidecar';
import { ConfigError, errorMessage, type RunResult } from '../errors';
import { logProblems, type Logger } from '../log';
import { releaseStartupMemory } from '../ops/heap';
import { notifyReady } from '../ops/notify';
import type { HupRelay } from '../signals';
import type { Target } from '../target';

export interface Lifecycle {
  agent: Agent;
  log: Logger;
  hups: HupRelay;
  /** Loads the targets again (SIGHUP). */
  load: () => Target[];
  /** Runs before the agent stops and the store closes (the fleet report revokes its key). */
  beforeStop?: () => Promise<void>;
  /** Sidecar mode: the program reconfig started. */
  program?: Program;
}

export function runAgent(l: Lifecycle): Promise<RunResult> {
  const { agent, log, program } = l;
  agent.start();
  // Ready means every target rendered once or failed once, not merely that etcd answered.
  agent.ready().then(
    () => {
      log.info(`first full apply done; watching ${agent.targets.length} target(s)`);
      notifyReady(`watching ${agent.targets.length} target(s)`, log);
      releaseStartupMemory(log);
    },
    (err: unknown) => log.error(`waiting for the first full apply: ${errorMessage(err)}`),
  );
  const finish = async (): Promise<void> => {
    await l.beforeStop?.().catch((err: unknown) => log.warn(`stopping: ${errorMessage(err)}`));
    await agent.stop();
  };
  return new Promise<RunResult>((resolve) => {
    let stopping = false;
    let reloading = Promise.resolve();
    /** Waits for a SIGHUP in progress, then stops; `result` is what the run ends with once stopped. */
    const end = (result: () => RunResult): void => {
      reloading
        .then(finish)
        .then(
          () => resolve(result()),
          (err: unknown) => resolve({ kind: 'failed', error: err }),
        );
    };
    // A wrong certificate, password or SRV name at start-up: retrying will not help, so say so and exit.
    // (In sidecar mode the first render has already worked: later trouble is retried like any outage.)
    agent.misconfigured.then(
      (err) => {
        if (stopping) return;
        stopping = true;
        end(() => ({ kind: 'failed', error: err }));
      },
      () => undefined,
    );
    const stop = (signal: NodeJS.Signals): void => {
      if (program) {
        // The program decides when it is done; reconfig follows it out (program.exited, below).
        program.signal(signal);
        return;
      }
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping after in-flight applies');
      end(() => ({ kind: 'ok' }));
    };
    if (program) {
      process.on('SIGQUIT', stop);
      program.exited.then(
        (code) => {
          stopping = true;
          // The program's code is the exit code; trouble stopping the agent is only logged.
          const exited: RunResult = { kind: 'program-exited', code };
          reloading.then(finish).then(
            () => resolve(exited),
            (err: unknown) => {
              log.error({ err }, `stopping: ${errorMessage(err)}`);
              resolve(exited);
            },
          );
        },
        () => undefined,
      );
    }
    const hup = (): void => {
      if (stopping) return;
      reloading = reloading
        .then(async () => {
          let next: Target[];
          try {
            next = l.load();
          } catch (err) {
            if (err instanceof ConfigError) logProblems(err.problems, log);
            log.error(`SIGHUP: new configuration is invalid; still running the old set of ${agent.targets.length} target(s)`);
            return;
          }
          await agent.replace(next);
          log.info({ targets: next.length }, 'SIGHUP: configuration reloaded');
        })
        .catch((err: unknown) => {
          log.error(`SIGHUP: reload failed: ${errorMessage(err)}`);
        });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    l.hups.handle(hup);
  });
}

/**
 * The long-running modes: the watching agent, and sidecar mode (the agent above a program it started). Signal
 * handling lives here; main.ts decides the mode and turns the result into the exit.
 */
import type { Program } from './agent/sidecar';
import { Agent } from './agent/supervisor';
import { runOnce } from './agent/onetime';
import type { RunnerContext } from './agent/runner';
import type { Target } from './target';
import { ConfigError, errorMessage, type RunResult } from './errors';
import type { ConnectionSettings } from './etcd/settings';
import type { EtcdStore } from './etcd/client';
import type { Store } from './etcd/store';
import { logProblems, type Logger } from './log';
import { notifyReady } from './ops/notify';
import type { HupRelay } from './signals';

export interface Daemon {
  store: Store;
  /** Runs before the agent stops and the store closes (the fleet report revokes its key). */
  onStop?: () => Promise<void>;
  targets: Target[];
  ctx: RunnerContext;
  /** Loads the targets again (SIGHUP). */
  load: () => Target[];
  log: Logger;
  resyncMs: number;
  /** SIGHUP, held since start-up (one that arrived before the agent ran is passed on). */
  hups: HupRelay;
}

export async function connect(settings: ConnectionSettings, log: Logger): Promise<EtcdStore> {
  // Loaded only once conf.d is valid: a bad config fails fast without paying for the gRPC stack.
  const { EtcdStore } = await import('./etcd/client');
  return new EtcdStore(settings, { warn: (msg) => log.warn(msg) });
}

/**
 * Sidecar mode: every target rendered once (no reloads: nothing runs yet), then the program started, then the
 * agent, which signals the program after each batch of changes. Any failure of the first render keeps the
 * program from starting. reconfig exits with the program's code.
 */
export async function sidecar(d: Daemon, argv: string[], reloadSignal: NodeJS.Signals): Promise<RunResult> {
  const { store, targets, ctx, log } = d;
  const { Program, ChangeBatcher } = await import('./agent/sidecar');
  const first = await runOnce(store, targets, { ...ctx, skipReload: true }).catch((err: unknown) => {
    store.close();
    throw err;
  });
  const failed = first.outcomes.filter((o) => !o.ok);
  if (failed.length > 0) {
    store.close();
    for (const o of failed) log.error({ target: o.id, stage: o.error?.stage }, o.error?.message ?? 'failed');
    log.error(`first render failed for ${failed.map((o) => o.id).join(', ')}; ${argv[0]} was not started`);
    return { kind: 'targets-failed' };
  }
  const program = new Program(argv, log);
  let agent: Agent | null = null;
  const batcher = new ChangeBatcher(
    () => agent?.busy ?? false,
    () => {
      if (program.signal(reloadSignal)) log.info({ signal: reloadSignal }, `sent ${reloadSignal} to ${argv[0]}`);
    },
  );
  const sidecarCtx: RunnerContext = { ...ctx, onApplied: () => batcher.changed(), onSettled: () => batcher.settle() };
  return watch({ ...d, store, ctx: sidecarCtx }, (created) => (agent = created), program);
}

/**
 * The watching agent until a signal stops it: SIGTERM and SIGINT stop after in-flight applies, SIGHUP re-reads
 * the targets. In sidecar mode the stop signals go to the program, and the agent stops when it exits.
 */
export async function watch(d: Daemon, onAgent: (agent: Agent) => void = () => undefined, program?: Program): Promise<RunResult> {
  const { store, targets, ctx, load, log, resyncMs } = d;
  let giveUp: (err: Error) => void = () => undefined;
  const agent: Agent = new Agent(store, targets, ctx, {
    onFirstSync: () =>
      void agent.idle().then(() => {
        log.info(`first full apply done; watching ${agent.targets.length} target(s)`);
        notifyReady(`watching ${agent.targets.length} target(s)`, log);
      }),
    observer: ctx.observer,
    // A wrong certificate, password or SRV name at start-up: retrying will not help, so say so and exit.
    // (In sidecar mode the first render has already worked: later trouble is retried like any outage.)
    ...(program ? {} : { onMisconfigured: (err: Error) => giveUp(err) }),
    resyncMs,
  });
  onAgent(agent);
  agent.start();
  const finish = async (): Promise<void> => {
    await d.onStop?.().catch((err: unknown) => log.warn(`stopping: ${errorMessage(err)}`));
    await agent.stop();
  };
  return new Promise<RunResult>((resolve) => {
    let stopping = false;
    giveUp = (err) => {
      if (stopping) return;
      stopping = true;
      void finish().finally(() => resolve({ kind: 'failed', error: err }));
    };
    let reloading = Promise.resolve();
    const stop = (signal: NodeJS.Signals): void => {
      if (program) {
        // The program decides when it is done; reconfig follows it out (program.exited, below).
        program.signal(signal);
        return;
      }
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping after in-flight applies');
      reloading
        .then(finish)
        .then(
          () => resolve({ kind: 'ok' }),
          (err: unknown) => resolve({ kind: 'failed', error: err }),
        );
    };
    if (program) {
      process.on('SIGQUIT', stop);
      void program.exited.then(async (code) => {
        stopping = true;
        // The program's code is the exit code; trouble stopping the agent is only logged.
        await reloading.then(finish).catch((err: unknown) => log.error({ err }, `stopping: ${errorMessage(err)}`));
        resolve({ kind: 'program-exited', code });
      });
    }
    const hup = (): void => {
      if (stopping) return;
      reloading = reloading.then(async () => {
        let next: Target[];
        try {
          next = load();
        } catch (err) {
          if (err instanceof ConfigError) logProblems(err.problems, log);
          log.error(`SIGHUP: new configuration is invalid; still running the old set of ${agent.targets.length} target(s)`);
          return;
        }
        await agent.replace(next);
        log.info({ targets: next.length }, 'SIGHUP: configuration reloaded');
      }).catch((err: unknown) => {
        log.error(`SIGHUP: reload failed: ${errorMessage(err)}`);
      });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    d.hups.handle(hup);
  });
}

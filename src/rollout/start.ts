/**
 * What a watching agent with --report starts for the rollouts: the context its later-wave gates read through
 * (wire.ts), and, while it has a target with `rollout`, its campaign to coordinate them (coordinator.ts). The set
 * of targets changes on SIGHUP: `update` starts the campaign when the first `rollout` target comes and resigns
 * when the last one goes.
 */
import { errorMessage } from '../errors';
import type { EtcdStore } from '../etcd/client';
import type { Logger } from '../log';
import type { Target } from '../target';
import { Coordinator } from './coordinator';
import { snapshotAt } from './etcd';
import type { RolloutContext } from './gate';

export interface Rollouts {
  context: RolloutContext;
  /** Campaigns while `targets` has a target with `rollout`, resigns when it has none (start-up and SIGHUP). */
  update: (targets: readonly Target[]) => void;
  /** Resigns from the election (another agent takes over at once); update() does nothing afterwards. */
  stop: () => Promise<void>;
}

export function startRollouts(report: { prefix: string; name: string; wave: number }, store: EtcdStore, log: Logger): Rollouts {
  const context: RolloutContext = {
    wave: report.wave,
    prefix: report.prefix,
    store,
    readAt: async (specs, revision) => snapshotAt(await store.currentClient(), specs, revision),
  };
  let coordinator: Coordinator | null = null;
  let stopped = false;
  // A resignation in progress: the next campaign starts after it, so that two of ours never overlap.
  let resigning: Promise<void> = Promise.resolve();
  const resign = (): Promise<void> => {
    const c = coordinator;
    coordinator = null;
    if (!c) return resigning;
    resigning = resigning
      .then(() => c.stop())
      .catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'rollout election: resigning failed; the lease lets it go'));
    return resigning;
  };
  const update = (targets: readonly Target[]): void => {
    if (stopped) return;
    const wanted = targets.some((t) => t.rollout);
    if (wanted && !coordinator) {
      const c = new Coordinator(() => store.currentClient(), report.prefix, report.name, log.child({ rollout: 'coordinator' }));
      coordinator = c;
      resigning.then(
        () => {
          if (coordinator === c) c.start();
        },
        () => undefined,
      );
      log.debug('a target has a rollout: campaigning to coordinate the rollouts');
    } else if (!wanted && coordinator) {
      log.info('no target has a rollout any more: resigning from the rollout election');
      void resign();
    }
  };
  return {
    context,
    update,
    stop: () => {
      stopped = true;
      return resign();
    },
  };
}

/** The targets' `rollout` fields by id, for the fleet report. */
export function rolloutsOf(targets: readonly Target[]): Map<string, { bakeMs: number; minhosts: number }> {
  return new Map(targets.flatMap((t) => (t.rollout ? [[t.id, t.rollout] as const] : [])));
}

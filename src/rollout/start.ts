/**
 * What a watching agent with --report starts for the rollouts: the context its later-wave gates read through
 * (wire.ts), and, when it has a target with `rollout`, its campaign to coordinate them (coordinator.ts).
 */
import type { EtcdStore } from '../etcd/client';
import type { Logger } from '../log';
import type { Target } from '../target';
import { Coordinator } from './coordinator';
import { snapshotAt } from './etcd';
import type { RolloutContext } from './gate';

export interface Rollouts {
  context: RolloutContext;
  /** Resigns from the election (another agent takes over at once). */
  stop: () => Promise<void>;
}

export function startRollouts(report: { prefix: string; name: string; wave: number }, store: EtcdStore, targets: readonly Target[], log: Logger): Rollouts {
  const context: RolloutContext = {
    wave: report.wave,
    prefix: report.prefix,
    store,
    readAt: async (specs, revision) => snapshotAt(await store.currentClient(), specs, revision),
  };
  if (!targets.some((t) => t.rollout)) return { context, stop: () => Promise.resolve() };
  const coordinator = new Coordinator(() => store.currentClient(), report.prefix, report.name, log.child({ rollout: 'coordinator' }));
  coordinator.start();
  return { context, stop: () => coordinator.stop() };
}

/** The targets' `rollout` fields by id, for the fleet report. */
export function rolloutsOf(targets: readonly Target[]): Map<string, { bakeMs: number; minhosts: number }> {
  return new Map(targets.flatMap((t) => (t.rollout ? [[t.id, t.rollout] as const] : [])));
}

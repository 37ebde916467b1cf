/**
 * What hears a running agent besides its log: metrics and health on --listen, and the fleet report on
 * --report (its key on a lease through the store's own connection). prom-client and the reporter load only
 * when asked for.
 */
import type { Observer } from '../agent/ports';
import type { EtcdStore } from '../etcd/client';
import type { Logger } from '../log';
import type { Metrics } from '../ops/metrics';
import { version } from '../version';
import type { ObserverPlan } from './plan';

/** The report key's lease: a dead host's key goes this long after its last keep-alive. */
const REPORT_TTL_SECONDS = 30;

export interface Report {
  observer: Observer;
  /** Before the agent stops: the report's last state written, then its key revoked. */
  close: () => Promise<void>;
  /** The targets' `rollout` fields, which the report carries for the rollout coordinator. */
  rollouts: (of: ReadonlyMap<string, { bakeMs: number; minhosts: number }>) => void;
}

/** /metrics and /healthz, served before etcd is contacted (so that an outage at start-up shows there). */
export async function listen(address: string, targetIds: readonly string[], log: Logger): Promise<Metrics> {
  const { Metrics } = await import('../ops/metrics');
  const { serve } = await import('../ops/server');
  const metrics = new Metrics(targetIds);
  await serve(address, metrics, log);
  return metrics;
}

/** The fleet report: `<prefix>/<name>`, written as the agent works. */
export async function report(
  plan: NonNullable<ObserverPlan['report']>,
  store: EtcdStore,
  targetIds: readonly string[],
  log: Logger,
  metrics?: Pick<Metrics, 'fleetReport'>,
): Promise<Report> {
  const { FleetReporter } = await import('../agent/report');
  const { Presence } = await import('../etcd/presence');
  const key = `${plan.prefix}/${plan.name}`;
  // Each refers to the other: the first write comes a turn later, once both exist.
  const reporter = new FleetReporter((json) => presence.write(json), { name: plan.name, version, wave: plan.wave }, targetIds, log, (current) =>
    metrics?.fleetReport(current),
  );
  const presence = new Presence(() => store.currentClient(), key, REPORT_TTL_SECONDS, () => reporter.rewrite());
  log.info({ key }, 'keeping a fleet report');
  return {
    observer: reporter,
    rollouts: (of) => reporter.rollouts(of),
    close: async () => {
      await reporter.close();
      await presence.close();
    },
  };
}

/**
 * The watching agent (the systemd service): load the targets, serve --listen, connect to etcd, keep the fleet
 * report if asked, and run the agent until a signal stops it (lifecycle.ts).
 */
import { Agent } from '../agent/agent';
import { allOf } from '../agent/observer';
import type { Observer } from '../agent/ports';
import type { RunResult } from '../errors';
import type { EtcdStore } from '../etcd/client';
import type { ModeContext } from './context';
import { runAgent } from './lifecycle';
import { listen, report, type Report } from './observers';
import type { Rollouts } from '../rollout/start';
import type { Target } from '../target';
import type { SidecarPlan, WatchPlan } from './plan';
import { planTargets } from './targets';
import { connectStore } from './store';

export async function watch(plan: WatchPlan, cx: ModeContext): Promise<RunResult> {
  const { log } = cx;
  let rollouts: ((targets: readonly Target[]) => void) | undefined;
  const load = (): Target[] => {
    const loaded = planTargets(plan.config, cx.env, { checkStateDir: !plan.notreally });
    rollouts?.(loaded);
    return loaded;
  };
  const targets = load();
  log.info({ targets: targets.length, cfgdir: plan.config.cfgdir, notreally: plan.notreally }, 'configuration loaded');
  const { observers, beforeStop, store, report } = await start(plan, cx, targets.map((t) => t.id));
  // Waves (--wave, src/rollout/): the later waves' gates, and this agent's campaign to coordinate the rollouts.
  let rollout: Rollouts | undefined;
  if (plan.observers.report && report) {
    const { rolloutsOf, startRollouts } = await import('../rollout/start');
    const r = startRollouts(plan.observers.report, store, log);
    rollout = r;
    // Start-up and each SIGHUP: the report's rollouts, and the campaign while some target has one.
    rollouts = (t) => {
      report.rollouts(rolloutsOf(t));
      r.update(t);
    };
    rollouts(targets);
  }
  const ctx = { prefix: plan.config.prefix, notreally: plan.notreally, log, print: cx.out, observer: allOf(observers), rollout: rollout?.context };
  const agent = new Agent(store, targets, ctx, { resyncMs: plan.resyncMs, stopWhenMisconfigured: true });
  const stopAll = async (): Promise<void> => {
    await rollout?.stop();
    await beforeStop?.();
  };
  return runAgent({ agent, log, hups: cx.hups, load, beforeStop: stopAll });
}

export interface Started {
  observers: Observer[];
  beforeStop?: () => Promise<void>;
  store: EtcdStore;
  /** The fleet report, with --report. */
  report?: Report;
}

/** What the watching agent and sidecar mode start alike: --listen first, then etcd, then the fleet report. */
export async function start(plan: WatchPlan | SidecarPlan, cx: ModeContext, ids: readonly string[]): Promise<Started> {
  const observers: Observer[] = [];
  const metrics = plan.observers.listen === undefined ? undefined : await listen(plan.observers.listen, ids, cx.log);
  if (metrics) observers.push(metrics);
  const store = await connectStore(plan.connection, cx.log);
  let beforeStop: (() => Promise<void>) | undefined;
  let r: Report | undefined;
  if (plan.observers.report) {
    r = await report(plan.observers.report, store, ids, cx.log, metrics);
    observers.push(r.observer);
    beforeStop = r.close;
  }
  return { observers, beforeStop, store, report: r };
}

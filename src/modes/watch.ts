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
import { listen, report } from './observers';
import type { SidecarPlan, WatchPlan } from './plan';
import { planTargets } from './targets';
import { connectStore } from './store';

export async function watch(plan: WatchPlan, cx: ModeContext): Promise<RunResult> {
  const { log } = cx;
  const load = () => planTargets(plan.config, cx.env);
  const targets = load();
  log.info({ targets: targets.length, cfgdir: plan.config.cfgdir, notreally: plan.notreally }, 'configuration loaded');
  const { observers, beforeStop, store } = await start(plan, cx, targets.map((t) => t.id));
  const ctx = { prefix: plan.config.prefix, notreally: plan.notreally, log, print: cx.out, observer: allOf(observers) };
  const agent = new Agent(store, targets, ctx, { resyncMs: plan.resyncMs, stopWhenMisconfigured: true });
  return runAgent({ agent, log, hups: cx.hups, load, beforeStop });
}

export interface Started {
  observers: Observer[];
  beforeStop?: () => Promise<void>;
  store: EtcdStore;
}

/** What the watching agent and sidecar mode start alike: --listen first, then etcd, then the fleet report. */
export async function start(plan: WatchPlan | SidecarPlan, cx: ModeContext, ids: readonly string[]): Promise<Started> {
  const observers: Observer[] = [];
  if (plan.observers.listen !== undefined) observers.push(await listen(plan.observers.listen, ids, cx.log));
  const store = await connectStore(plan.connection, cx.log);
  let beforeStop: (() => Promise<void>) | undefined;
  if (plan.observers.report) {
    const r = await report(plan.observers.report, store, ids, cx.log);
    observers.push(r.observer);
    beforeStop = r.close;
  }
  return { observers, beforeStop, store };
}

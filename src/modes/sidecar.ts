/**
 * Sidecar mode: every target rendered once (no reloads: nothing runs yet), then the program started, then the
 * agent, which signals the program after each batch of changes. Any failure of the first render keeps the
 * program from starting. reconfig exits with the program's code.
 */
import { Agent } from '../agent/agent';
import { allOf } from '../agent/observer';
import { applyOnce } from '../agent/once';
import { ChangeBatcher, Program } from '../agent/sidecar';
import { hasReload } from '../apply/pipeline';
import type { RunResult } from '../errors';
import type { Target } from '../target';
import type { ModeContext } from './context';
import { runAgent } from './lifecycle';
import type { SidecarPlan } from './plan';
import { planTargets } from './targets';
import { start } from './watch';

export async function sidecar(plan: SidecarPlan, cx: ModeContext): Promise<RunResult> {
  const { log } = cx;
  const argv = plan.program;
  const load = () => planTargets(plan.config, cx.env);
  const targets = load();
  log.info({ targets: targets.length, cfgdir: plan.config.cfgdir }, 'configuration loaded');
  const { observers, beforeStop, store } = await start(plan, cx, targets.map((t) => t.id));
  const ctx = { prefix: plan.config.prefix, notreally: false, log, print: cx.out };
  let first;
  try {
    first = await applyOnce(store, targets, { ...ctx, observer: allOf(observers), skipReload: true });
  } catch (err) {
    await beforeStop?.();
    store.close();
    throw err;
  }
  // A render the verify refused before a restart (remembered with history) leaves the old files, which passed it:
  // the program starts on those. No verify runs in this first pass, so only a remembered refusal fails at verify.
  const failed = first.outcomes.filter((o) => !o.ok && o.error?.stage !== 'verify');
  if (failed.length > 0) {
    await beforeStop?.();
    store.close();
    log.error(`first render failed for ${failed.map((o) => o.id).join(', ')}; ${argv[0]} was not started`);
    return { kind: 'targets-failed' };
  }
  const program = new Program(argv, log);
  let agent: Agent | null = null;
  const send = (): boolean => {
    const sent = program.signal(plan.reloadSignal);
    if (sent) log.info({ signal: plan.reloadSignal }, `sent ${plan.reloadSignal} to ${argv[0]}`);
    return sent;
  };
  // A target with a verify signals the program as its own reload, then verifies; the others are batched. The set
  // is read afresh at each SIGHUP.
  let verifying = new Set(targets.filter((t) => t.verify && !hasReload(t)).map((t) => t.id));
  const reload = (): Target[] => {
    const next = load();
    verifying = new Set(next.filter((t) => t.verify && !hasReload(t)).map((t) => t.id));
    return next;
  };
  const batcher = new ChangeBatcher(() => agent?.busy ?? false, send, (id) => verifying.has(id));
  const programReload = (): void => {
    if (!send()) throw new Error(`${argv[0]} is not running: nothing to signal`);
  };
  agent = new Agent(store, targets, { ...ctx, observer: allOf([...observers, batcher]), programReload }, { resyncMs: plan.resyncMs });
  return runAgent({ agent, log, hups: cx.hups, load: reload, beforeStop, program });
}

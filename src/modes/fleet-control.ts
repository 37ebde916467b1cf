/**
 * `reconfig fleet promote --revision R`, `reconfig fleet halt` and `reconfig fleet resume`: an operator's say in
 * the rollouts (src/rollout/), written to etcd beside the coordinator's records and honoured by every later
 * wave's gate at once, whoever coordinates: `<prefix>/rollout/<target>/promote` lets every wave apply R now,
 * `<prefix>/rollout/<target>/halt` stops waves >= 1 from applying anything (it wins over a promotion) until the
 * resume deletes it. Without --target they act on every target with a rollout that a host reports.
 */
import type { Etcd3 } from 'etcd3';
import type { AgentReport } from '../agent/report';
import { UsageError, type RunResult } from '../errors';
import { classify } from '../etcd/classify';
import { haltKey, isReportKey, promoteKey, rolloutKeyKind, type Halt, type Promotion } from '../rollout/record';
import type { ModeContext } from './context';
import type { FleetPlan } from './plan';

type Control = NonNullable<FleetPlan['control']>;

export async function fleetControl(plan: FleetPlan, control: Control, cx: ModeContext): Promise<RunResult> {
  const { EtcdStore } = await import('../etcd/client');
  const store = new EtcdStore(plan.connection, { warn: (msg) => cx.log.warn(msg) });
  try {
    const client = await store.currentClient();
    const prefix = plan.report.replace(/\/+$/, '');
    const known = await rolloutTargets(client, prefix, control.action === 'resume');
    const targets = plan.targets ?? known.ids;
    if (targets.length === 0) {
      throw new UsageError(`no target with a rollout is reported under ${prefix}${control.action === 'resume' ? ' or halted' : ''}; name one with --target`);
    }
    const unknown = targets.filter((t) => !known.ids.includes(t));
    if (unknown.length > 0 && control.action !== 'resume') {
      throw new UsageError(`--target ${unknown.join(', ')}: no host under ${prefix} reports a target of that id with a rollout (they report: ${known.ids.join(', ') || 'none'})`);
    }
    if (control.action === 'promote' && control.revision > known.revision) {
      throw new UsageError(`--revision ${control.revision} is beyond etcd's current revision (${known.revision}): nothing can have been written at it yet`);
    }
    for (const t of targets) {
      const key = control.action === 'promote' ? promoteKey(prefix, t) : haltKey(prefix, t);
      try {
        if (control.action === 'promote') {
          const value: Promotion = { revision: control.revision, at: new Date().toISOString() };
          await client.put(key).value(JSON.stringify(value));
        } else if (control.action === 'halt') {
          const value: Halt = { since: new Date().toISOString() };
          await client.put(key).value(JSON.stringify(value));
        } else {
          await client.delete().key(key);
        }
      } catch (err) {
        throw classify(err, key, 'write');
      }
      const what = control.action === 'promote' ? `revision ${control.revision} promoted to every wave` : control.action === 'halt' ? 'halted for waves 1 and up' : 'resumed';
      cx.out(`${t}: ${what}\n`);
    }
    return { kind: 'ok' };
  } finally {
    store.close();
  }
}

/** Targets with a rollout in some host's report (and, for a resume, those halted now), and etcd's revision. */
async function rolloutTargets(client: Etcd3, prefix: string, halted: boolean): Promise<{ ids: string[]; revision: number }> {
  let res;
  try {
    res = await client.getAll().prefix(`${prefix}/`).exec();
  } catch (err) {
    throw classify(err, `${prefix}/`, 'read');
  }
  const ids = new Set<string>();
  for (const kv of res.kvs) {
    const key = kv.key.toString();
    if (isReportKey(prefix, key)) {
      try {
        const r = JSON.parse(kv.value.toString()) as AgentReport;
        for (const [id, t] of Object.entries(r.targets ?? {})) if (t.rollout) ids.add(id);
      } catch {
        // `reconfig fleet` names a value that is not a report; here it only has no target to give.
      }
    } else if (halted && rolloutKeyKind(prefix, key)?.kind === 'halt') {
      ids.add(rolloutKeyKind(prefix, key)!.target);
    }
  }
  return { ids: [...ids].sort(), revision: Number(res.header.revision) };
}

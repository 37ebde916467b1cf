/**
 * `reconfig render <target-id> --data <file>`: render one target from a data file to stdout, with no etcd.
 * The data is filtered to the keys the target watches and rendered by the daemon's own runner (the same guards,
 * plugin and helpers), so what you see is what the daemon would write.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { noObserver } from '../agent/observer';
import { primeAll, wire } from '../agent/wire';
import { UsageError, errorMessage, type RunResult } from '../errors';
import { specWants } from '../etcd/store';
import type { ModeContext } from './context';
import type { RenderPlan } from './plan';
import { planTargets } from './targets';

/** Reads a JSON or YAML object of key → value; numbers and booleans become strings, objects become JSON. */
export function readDataFile(file: string): Array<[string, string]> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--data ${file}: ${errorMessage(err)}`);
  }
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--data ${file}: not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${errorMessage(err)}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UsageError(`--data ${file}: must hold an object of keys and values, such as {"/services/web/web1": "10.0.0.1:80"}`);
  }
  const entries: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!key.startsWith('/')) throw new UsageError(`--data ${file}: key ${JSON.stringify(key)} must begin with /`);
    if (value === null || value === undefined) continue;
    entries.push([key, typeof value === 'string' ? value : JSON.stringify(value)]);
  }
  return entries;
}

export async function render(plan: RenderPlan, cx: ModeContext): Promise<RunResult> {
  const targets = planTargets(plan.config, cx.env, { checkStateDir: false });
  const target = targets.find((t) => t.id === plan.id);
  if (!target) throw new UsageError(`no target with id ${JSON.stringify(plan.id)} (there are: ${targets.map((t) => t.id).join(', ') || 'none'})`);
  const entries = readDataFile(plan.data);
  // The daemon's own runner, made manual: the same filtering to the target's keys, guards, plugin and helpers;
  // its other sources give their input once, as under --onetime (a Docker target lists its containers).
  const ctx = { prefix: '', notreally: true, log: cx.log, print: cx.out, observer: noObserver };
  const wired = wire(target, ctx, { manual: true });
  // The data file's keys are as templates see them, without the global prefix: compared with the keys' local form.
  const keys = target.keys.map((k) => ({ key: k.local === '/' ? '' : k.local, recursive: k.recursive }));
  const wanted = entries.filter(([k]) => keys.some((s) => s.key === '' || specWants(s, k)));
  wired.runner.load(wanted.map(([k, value]) => ({ key: k, value })), 1);
  await primeAll([wired]);
  let text: string[];
  try {
    text = await wired.runner.render();
  } catch (e) {
    cx.err(`${errorMessage(e)}\n`);
    return { kind: 'targets-failed' };
  }
  // A target of several files prints each under a header line naming it.
  cx.out(text.length === 1 ? text[0] : text.map((t, i) => `==> ${target.files[i].dest} <==\n${t}`).join(''));
  return { kind: 'ok' };
}

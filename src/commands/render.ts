/**
 * `reconfig render <target-id> --data <file>`: render one target from a data file to stdout, with no etcd.
 * The data is filtered to the keys the target watches and handed to the template exactly as the daemon does
 * (TargetData, the same helpers), so what you see is what the daemon would write.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { loadTargets } from '../config/load';
import type { Target } from '../config/target';
import { ExitCode, UsageError, errorMessage } from '../errors';
import { specWants } from '../etcd/store';
import { TargetData } from '../render/data';
import { assertValues } from '../render/values';
import { runPlugin } from '../render/plugin';

export interface RenderOptions {
  cfgdir: string;
  prefix: string;
  data: string;
}

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

/** A Docker target renders from the containers running now (the socket must be reachable). */
async function liveContainers(opts: NonNullable<Target['docker']>): Promise<unknown> {
  const { listContainersOnce } = await import('../docker/containers');
  return listContainersOnce(opts);
}

export async function renderOne(id: string, opts: RenderOptions, out: (text: string) => void, err: (text: string) => void): Promise<number> {
  const targets = loadTargets({ cfgdir: opts.cfgdir, prefix: opts.prefix });
  const target = targets.find((t) => t.id === id);
  if (!target) throw new UsageError(`no target with id ${JSON.stringify(id)} (there are: ${targets.map((t) => t.id).join(', ') || 'none'})`);
  const key = target.key === '/' ? '' : target.key;
  const entries = readDataFile(opts.data).filter(([k]) => key === '' || (key !== undefined && specWants({ key, recursive: target.recursive }, k)));
  let text: string;
  try {
    const held = new TargetData(entries, target.checkValue);
    assertValues(target.id, held);
    const data = held.toObject();
    const plugin = target.plugin ? await runPlugin(target.plugin, { target: target.id, data }, target.timeoutMs) : undefined;
    const containers = target.docker ? await liveContainers(target.docker) : undefined;
    text = target.render(data, { plugin, containers });
  } catch (e) {
    err(`${errorMessage(e)}\n`);
    return ExitCode.targetsFailed;
  }
  out(text);
  return ExitCode.ok;
}

/**
 * `reconfig render <target-id> --data <file>`: render one target from a data file to stdout, with no etcd.
 * The data is filtered to the keys the target watches and rendered by the daemon's own renderTarget (the same
 * guards, plugin and helpers), so what you see is what the daemon would write.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { loadTargets } from '../config/load';
import { UsageError, errorMessage, type RunResult } from '../errors';
import { specWants } from '../etcd/store';
import { sourcesFor, type InputSink } from '../agent/sources';
import { createLogger } from '../log';
import { TargetData } from '../render/data';
import { renderTarget } from '../render/target';

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

export async function renderOne(id: string, opts: RenderOptions, out: (text: string) => void, err: (text: string) => void): Promise<RunResult> {
  const targets = loadTargets({ cfgdir: opts.cfgdir, prefix: opts.prefix });
  const target = targets.find((t) => t.id === id);
  if (!target) throw new UsageError(`no target with id ${JSON.stringify(id)} (there are: ${targets.map((t) => t.id).join(', ') || 'none'})`);
  const key = target.key === '/' ? '' : target.key;
  const entries = readDataFile(opts.data).filter(([k]) => key === '' || (key !== undefined && specWants({ key, recursive: target.recursive }, k)));
  let text: string;
  try {
    // The target's other sources give their input once, as under --onetime (a Docker target lists its containers).
    const given = new Map<string, unknown>();
    const sink: InputSink = { provide: (name, value) => given.set(name, value), refresh: () => undefined };
    for (const source of sourcesFor(target, createLogger({}))) await source.prime(sink);
    text = await renderTarget(target, { data: new TargetData(entries, target.checkValue), given });
  } catch (e) {
    err(`${errorMessage(e)}\n`);
    return { kind: 'targets-failed' };
  }
  out(text);
  return { kind: 'ok' };
}

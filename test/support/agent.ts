/** Runs the agent in-process against a real etcd, with its log lines captured. */
import path from 'node:path';
import type { Observer } from '../../src/agent/observer';
import { Agent } from '../../src/agent/agent';
import { loadTargets } from '../../src/config/load';
import { EtcdStore } from '../../src/etcd/client';
import { at } from './etcd';
import { createLogger } from '../../src/log';
import type { LogLine } from './cli';

export interface InProcessAgent {
  agent: Agent;
  logs: LogLine[];
  printed: string[];
  stop(): Promise<void>;
}

export function startAgent(opts: {
  cfgdir: string;
  endpoint: string;
  prefix?: string;
  notreally?: boolean;
  resyncMs?: number;
  /** Sees what the feed does (syncs, events), as --listen's metrics do. */
  observer?: Observer;
}): InProcessAgent {
  const logs: LogLine[] = [];
  const printed: string[] = [];
  const log = createLogger({ debug: true, destination: { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) } });
  const prefix = opts.prefix ?? '';
  const targets = loadTargets({ cfgdir: opts.cfgdir, prefix });
  const store = new EtcdStore(at(opts.endpoint), { callTimeoutMs: 2000 });
  const ctx = { prefix, notreally: opts.notreally ?? false, log, print: (t: string) => void printed.push(t), observer: opts.observer };
  const agent = new Agent(store, targets, ctx, { resyncMs: opts.resyncMs });
  agent.start();
  return { agent, logs, printed, stop: () => agent.stop() };
}

export function reload(cfgdir: string, prefix = ''): ReturnType<typeof loadTargets> {
  return loadTargets({ cfgdir: path.resolve(cfgdir), prefix });
}

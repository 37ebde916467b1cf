/**
 * Every target applied once, from one read at one revision: --onetime, and sidecar mode's first pass. Each
 * target stands alone: one whose source fails (a Docker socket that cannot be reached) fails at stage `read`,
 * and the others apply.
 */
import type { Reader } from '../etcd/store';
import type { Target } from '../target';
import { cleanStaged } from './cleanup';
import type { Outcome, RunnerContext } from './runner';
import { primeAll, wire } from './wire';

/**
 * How many targets apply at once: those that run a command (check, reload, verify) eight at a time, so that a
 * bootstrap does not start a hundred `haproxy -c` at once; the others, which only write files, 32 at a time, so
 * that their syncs overlap (the file system commits them together) and the thread pool (16 threads for
 * --onetime, main.ts) has work to overlap.
 */
const WITH_COMMANDS = 8;
const FILES_ONLY = 32;

function turn(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

function runsCommands(t: Target): boolean {
  return t.checkcmd !== undefined || t.reloadcmd !== undefined || t.verify !== undefined;
}

export interface OnceReport {
  revision: number;
  /** In the order of the targets given. */
  outcomes: Outcome[];
}

export async function applyOnce(store: Reader, targets: readonly Target[], ctx: RunnerContext): Promise<OnceReport> {
  // etcd: one snapshot for every keyed target, at one revision (plugin targets with no key read nothing). It is
  // asked for first, and the housekeeping below runs while etcd answers (nothing is awaited in between).
  const reading = store.snapshot(targets.flatMap((t) => t.keys));
  // Handled at the await below; this only keeps a throw in the housekeeping from leaving it unhandled.
  reading.catch(() => undefined);
  // The request goes out on the loop's next turns (the connection, then the write): let it go before the
  // synchronous housekeeping, so that etcd works on it meanwhile. Two turns are enough for plain HTTP on
  // loopback (strace: the write comes before the housekeeping's syscalls); a TLS handshake or an auth round trip
  // takes more, and the housekeeping then just overlaps less.
  await turn();
  await turn();
  const owed = cleanStaged(targets, ctx);
  const wired = targets.map((t) => wire(t, ctx, { manual: true }));
  const runners = wired.map((w) => w.runner);
  for (const r of runners) if (owed.has(r.target.id)) r.oweReload();
  const snap = await reading;
  let i = 0;
  for (const r of runners) {
    if (r.specs.length === 0) continue;
    r.load(r.specs.flatMap(() => snap.kvs[i++]), snap.revision);
  }
  // The other sources give their input once (Docker lists the containers running now).
  await primeAll(wired);
  const outcomes = new Array<Outcome>(runners.length);
  const pool = async (indexes: number[], width: number): Promise<void> => {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < indexes.length) {
        const i = indexes[next++];
        outcomes[i] = await runners[i].applyNow();
      }
    };
    await Promise.all(Array.from({ length: Math.min(width, indexes.length) }, worker));
  };
  const all = runners.map((_, i) => i);
  await Promise.all([
    pool(all.filter((i) => runsCommands(runners[i].target)), WITH_COMMANDS),
    pool(all.filter((i) => !runsCommands(runners[i].target)), FILES_ONLY),
  ]);
  return { revision: snap.revision, outcomes };
}

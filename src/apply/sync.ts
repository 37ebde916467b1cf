/**
 * Making what the apply wrote durable: a staged file's data before its rename, and the directory syncs that make
 * renames survive a crash, shared by the renames of one directory.
 */
import { closeSync, constants, fdatasync, fdatasyncSync, fsync, fsyncSync, openSync } from 'node:fs';
import { promisify } from 'node:util';

const fsyncAsync = promisify(fsync);
const fdatasyncAsync = promisify(fdatasync);

/** Applies under way (TargetRunner.applyNow brackets each with asApply). */
let applies = 0;

/** Runs one target's apply, counted: see syncData. */
export async function asApply<T>(apply: () => Promise<T>): Promise<T> {
  applies += 1;
  try {
    return await apply();
  } finally {
    applies -= 1;
  }
}

/**
 * A staged file's data on disk. A lone apply (one change seen by the watching agent) syncs on the main thread:
 * nothing else waits for the loop, and a pooled sync's two thread hops (out to a worker and back) cost more than
 * the loop's pause on a busy machine (put -> file p50 in three paired bench runs: 1.15x confd's, against 1.21x).
 * While other applies are under way (start-up, SIGHUP, --onetime) it goes through the thread pool, so that
 * their syncs overlap, and so it does after a sync that took longer than SLOW_SYNC_MS. The directory's sync
 * after the rename follows the same rule.
 */
export function syncData(fd: number): Promise<void> {
  return timed(fd, fdatasyncSync, fdatasyncAsync);
}

/**
 * A disk slower than this (a loaded one, network storage) gets its syncs off the main thread again, so that the
 * loop is never held for long: leases, watches and /healthz go on. One slow sync is the most it holds the loop.
 */
const SLOW_SYNC_MS = 5;
/** How long the last sync took, however it ran. */
let lastSyncMs = 0;

async function timed(fd: number, onLoop: (fd: number) => void, pooled: (fd: number) => Promise<void>): Promise<void> {
  const t0 = performance.now();
  if (applies <= 1 && lastSyncMs <= SLOW_SYNC_MS) onLoop(fd);
  else await pooled(fd);
  lastSyncMs = performance.now() - t0;
}

async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, constants.O_RDONLY);
  try {
    await timed(fd, fsyncSync, fsyncAsync);
  } finally {
    closeSync(fd);
  }
}

/** By directory: the sync that has not started yet (every rename before it starts is covered by it), and the one running. */
const dirSyncs = new Map<string, { next?: Promise<void>; running?: Promise<void> }>();

/**
 * Makes every rename done in `dir` so far durable. Renames in one directory share their syncs, as a journal's
 * group commit does: a caller joins the sync that has not started yet, or, when one is running (it may have
 * started before the caller's rename), queues the one after it. A hundred targets in /etc/haproxy swapped at
 * start-up cost two or three directory syncs, not a hundred, and each still waits for one that began after
 * its own rename.
 */
export function syncDirectory(dir: string, sync: (dir: string) => Promise<void> = fsyncDir): Promise<void> {
  let s = dirSyncs.get(dir);
  if (!s) dirSyncs.set(dir, (s = {}));
  if (s.next) return s.next;
  const state = s;
  const next = (state.running ?? Promise.resolve()).then(
    () => undefined,
    () => undefined,
  ).then(() => {
    state.next = undefined;
    const running = sync(dir);
    state.running = running;
    return running.finally(() => {
      if (state.running === running) state.running = undefined;
      if (!state.running && !state.next) dirSyncs.delete(dir);
    });
  });
  state.next = next;
  return next;
}

/**
 * Making what the apply wrote durable: the directory syncs that make renames survive a crash, shared by the
 * renames of one directory.
 */
import { closeSync, constants, fsync, openSync } from 'node:fs';
import { promisify } from 'node:util';

const fsyncAsync = promisify(fsync);

async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, constants.O_RDONLY);
  try {
    await fsyncAsync(fd);
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

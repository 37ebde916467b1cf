/**
 * The file half of an apply: read the current file, stage the new one beside it, swap it in atomically, keep
 * a file that a check refused, and clean up what a crash left behind.
 *
 * The small syscalls are synchronous on purpose: an apply is a dozen of them, and a hop through libuv's thread
 * pool for each costs more than the syscall itself (about 1 ms per apply here). The syncs, which wait for the
 * disk, are in sync.ts.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
  type Stats,
} from 'node:fs';
import path from 'node:path';
import { ApplyError, errorMessage } from '../errors';
import { syncData, syncDirectory } from './sync';

export interface Current {
  bytes: Buffer;
  stat: Stats;
}

const STAGE_MARK = '.reconfig-';

/** The current file, or null when it does not exist. */
export function readCurrent(dest: string): Current | null {
  let fd: number;
  try {
    fd = openSync(dest, constants.O_RDONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ApplyError(`cannot read ${dest}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    return { stat: fstatSync(fd), bytes: readFileSync(fd) };
  } catch (err) {
    throw new ApplyError(`cannot read ${dest}: ${errorMessage(err)}`, { cause: err });
  } finally {
    closeSync(fd);
  }
}

export interface Ownership {
  mode?: number;
  uid?: number;
  gid?: number;
}

/**
 * A staged file's name: 12 hex digits, from Math.random, not node:crypto (whose OpenSSL start-up would cost a
 * --onetime more than all its renders). The name need not be secret: it is created with O_EXCL, so a name that
 * exists already, a symlink planted there included, is never opened; stage() draws another.
 */
function stagedName(dest: string): string {
  let hex = '';
  while (hex.length < 12) hex += Math.floor(Math.random() * 0x1000000).toString(16).padStart(6, '0');
  return path.join(path.dirname(dest), `.${path.basename(dest)}${STAGE_MARK}${hex}`);
}

function createExclusive(file: string): number {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
  try {
    return openSync(file, flags, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    // Like consul-template, create missing parent directories.
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    return openSync(file, flags, 0o600);
  }
}

/**
 * Writes `bytes` to a new file created exclusively in dest's own directory (so the rename is atomic), with
 * its mode and owner applied and its data on disk. Missing parent directories are created (0755). Default
 * mode and owner: the current file's, else 0644 and ours.
 */
export async function stage(dest: string, bytes: Buffer, want: Ownership, current: Current | null): Promise<string> {
  let staged = stagedName(dest);
  const mode = want.mode ?? (current ? current.stat.mode & 0o7777 : 0o644);
  let fd: number | undefined;
  try {
    for (let tries = 1; fd === undefined; tries++) {
      try {
        fd = createExclusive(staged);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || tries >= 5) throw err;
        staged = stagedName(dest);
      }
    }
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
    const uid = want.uid ?? current?.stat.uid;
    const gid = want.gid ?? current?.stat.gid;
    if ((uid !== undefined && uid !== process.geteuid?.()) || (gid !== undefined && gid !== process.getegid?.())) {
      fchownSync(fd, uid ?? -1, gid ?? -1);
    }
    // After chown, which may clear set-id bits.
    fchmodSync(fd, mode);
    await syncData(fd);
    return staged;
  } catch (err) {
    // Only a file this call created: a name that was taken is someone else's.
    if (fd !== undefined) rmSync(staged, { force: true });
    throw new ApplyError(`cannot stage ${dest}: ${errorMessage(err)}`, { cause: err });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Where the bytes a check refused are kept: beside the target, `<dest>.reconfig-refused`. */
export function refusedPath(dest: string): string {
  return `${dest}${STAGE_MARK}refused`;
}

/**
 * Keeps `bytes`, which a check refused, at refusedPath(dest), replacing any earlier one, so that the operator
 * can run the check on them by hand. Mode 0600 and owned by us, whatever the target's mode and owner: the file
 * is for the operator, not for the daemon that reads the target, and it may hold what its readers must not see
 * yet. Staged under the name stage() gives (so a crash leaves nothing that removeStale() does not clean up),
 * then renamed, so a reader never sees half a file. Returns its path.
 */
export async function keepRefused(dest: string, bytes: Buffer): Promise<string> {
  const file = refusedPath(dest);
  const staged = await stage(dest, bytes, { mode: 0o600, uid: process.geteuid?.(), gid: process.getegid?.() }, null);
  try {
    renameSync(staged, file);
  } catch (err) {
    throw new ApplyError(`cannot keep the refused file as ${file}: ${errorMessage(err)}`, { cause: err });
  } finally {
    discard(staged);
  }
  return file;
}

/** Renames `staged` over `dest` and makes the rename durable by syncing the directory. */
export async function swap(staged: string, dest: string): Promise<void> {
  try {
    renameSync(staged, dest);
    await syncDirectory(path.dirname(dest));
  } catch (err) {
    throw new ApplyError(`cannot swap ${staged} into ${dest}: ${errorMessage(err)}`, { cause: err });
  }
}

/** Puts back what was there before: the old bytes and mode atomically, or no file at all. */
export async function restore(dest: string, previous: Current | null): Promise<void> {
  if (!previous) {
    rmSync(dest, { force: true });
    return;
  }
  const staged = await stage(dest, previous.bytes, { mode: previous.stat.mode & 0o7777, uid: previous.stat.uid, gid: previous.stat.gid }, null);
  try {
    await swap(staged, dest);
  } finally {
    rmSync(staged, { force: true });
  }
}

/**
 * Removes a staged file if it is still there (after a failed check, or a failure before the swap). Runs in a
 * `finally`, so a file that is already gone, with its directory even (ENOTDIR), must not hide the real error.
 */
export function discard(staged: string): void {
  try {
    rmSync(staged, { force: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
  }
}

/** Removes staged files that a crash left next to `dest`. Returns the paths removed. */
export function removeStale(dest: string): string[] {
  const dir = path.dirname(dest);
  const mark = `.${path.basename(dest)}${STAGE_MARK}`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const stale = names.filter((n) => n.startsWith(mark) && /^[0-9a-f]{12}$/.test(n.slice(mark.length)));
  for (const n of stale) rmSync(path.join(dir, n), { force: true });
  return stale.map((n) => path.join(dir, n));
}

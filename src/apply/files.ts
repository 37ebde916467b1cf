/**
 * The file half of an apply: read the current file, stage the new one beside it, swap it in atomically,
 * and clean up what a crash left behind.
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { ApplyError, errorMessage } from '../errors';

export interface Current {
  bytes: Buffer;
  stat: Stats;
}

const STAGE_MARK = '.reconfig-';

/** The current file, or null when it does not exist. */
export async function readCurrent(dest: string): Promise<Current | null> {
  try {
    const [bytes, stat] = await Promise.all([fs.readFile(dest), fs.stat(dest)]);
    return { bytes, stat };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ApplyError(`cannot read ${dest}: ${errorMessage(err)}`, { cause: err });
  }
}

export interface Ownership {
  mode?: number;
  uid?: number;
  gid?: number;
}

/**
 * Writes `bytes` to a new file created exclusively in dest's own directory (so the rename is atomic), with
 * its mode and owner applied and its data on disk. Missing parent directories are created (0755). Default mode and owner: the current file's, else 0644
 * and ours.
 */
export async function stage(dest: string, bytes: Buffer, want: Ownership, current: Current | null): Promise<string> {
  const staged = path.join(path.dirname(dest), `.${path.basename(dest)}${STAGE_MARK}${randomBytes(6).toString('hex')}`);
  const mode = want.mode ?? (current ? current.stat.mode & 0o7777 : 0o644);
  let fh: fs.FileHandle | undefined;
  try {
    // Like consul-template, create missing parent directories.
    await fs.mkdir(path.dirname(dest), { recursive: true, mode: 0o755 });
    fh = await fs.open(staged, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    await fh.writeFile(bytes);
    const uid = want.uid ?? current?.stat.uid;
    const gid = want.gid ?? current?.stat.gid;
    if ((uid !== undefined && uid !== process.geteuid?.()) || (gid !== undefined && gid !== process.getegid?.())) {
      await fh.chown(uid ?? -1, gid ?? -1);
    }
    // After chown, which may clear set-id bits.
    await fh.chmod(mode);
    await fh.sync();
    return staged;
  } catch (err) {
    await fs.rm(staged, { force: true });
    throw new ApplyError(`cannot stage ${dest}: ${errorMessage(err)}`, { cause: err });
  } finally {
    await fh?.close();
  }
}

/** Renames `staged` over `dest` and makes the rename durable by syncing the directory. */
export async function swap(staged: string, dest: string): Promise<void> {
  try {
    await fs.rename(staged, dest);
    const dir = await fs.open(path.dirname(dest), constants.O_RDONLY);
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch (err) {
    throw new ApplyError(`cannot swap ${staged} into ${dest}: ${errorMessage(err)}`, { cause: err });
  }
}

/** Puts back what was there before: the old bytes and mode atomically, or no file at all. */
export async function restore(dest: string, previous: Current | null): Promise<void> {
  if (!previous) {
    await fs.rm(dest, { force: true });
    return;
  }
  const staged = await stage(
    dest,
    previous.bytes,
    { mode: previous.stat.mode & 0o7777, uid: previous.stat.uid, gid: previous.stat.gid },
    null,
  );
  try {
    await swap(staged, dest);
  } finally {
    await fs.rm(staged, { force: true });
  }
}

/** Removes staged files that a crash left next to `dest`. Returns the paths removed. */
export async function removeStale(dest: string): Promise<string[]> {
  const dir = path.dirname(dest);
  const mark = `.${path.basename(dest)}${STAGE_MARK}`;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const stale = names.filter((n) => n.startsWith(mark) && /^[0-9a-f]{12}$/.test(n.slice(mark.length)));
  await Promise.all(stale.map((n) => fs.rm(path.join(dir, n), { force: true })));
  return stale.map((n) => path.join(dir, n));
}

/**
 * A target's history (`history` in its definition): the last applied versions of its files, kept under
 * `--state-dir` for `reconfig history` and `reconfig rollback`, and the hold a rollback by hand leaves.
 *
 *     <state-dir>/<target>/            0700
 *       <n>/meta.json                  0600: revision, time, digest, each file's path, mode and owner
 *       <n>/<i>                        file i of the target, with that file's own mode and owner
 *       hold.json                      0600: held at version n until the data renders other than `against`
 *       refused.json                   0600: the digest of a render the verify refused, kept across restarts
 *
 * Versions are numbered from 1 and only ever grow. A version is written whole (every file fsync'd, then its
 * meta.json put in place by a rename) or not at all: a directory without meta.json is an interrupted write,
 * never listed, and removed by the next pruning. Kept files are rendered configs and may hold secrets, hence the
 * 0700 directories; nothing here logs their content.
 */
import { closeSync, fdatasyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ApplyError, errorMessage } from '../errors';

/*
 * node:crypto and node:fs/promises load at their first use, not with this module: every apply imports it, and a
 * --onetime of targets without a history or a verify would pay OpenSSL's start-up for nothing.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const crypto = (): typeof import('node:crypto') => require('node:crypto') as typeof import('node:crypto');
const fsp = (): typeof import('node:fs/promises') => require('node:fs/promises') as typeof import('node:fs/promises');
/* eslint-enable @typescript-eslint/no-require-imports */

/** One digest for a set of files (in order): what a verify's refusal, a hold and a version are compared by. */
export function digestOf(contents: ReadonlyArray<string | Buffer>): string {
  const { createHash } = crypto();
  const h = createHash('sha256');
  for (const c of contents) h.update(createHash('sha256').update(c).digest());
  return h.digest('hex');
}

export interface VersionFile {
  dest: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
}

export interface Version {
  n: number;
  /** The etcd revision the files were rendered from. */
  revision: number;
  /** When it was applied (ISO 8601). */
  time: string;
  digest: string;
  files: VersionFile[];
  /** How it came to be, when not by an apply of new data: `rollback to 3`. */
  note?: string;
}

/** A render the verify refused, remembered across restarts: not applied again while the data renders it. */
export interface Refusal {
  digest: string;
  message: string;
  rolledBack: boolean;
  revision: number;
  since: string;
}

/** Left by `reconfig rollback`: the target stays at `version` while its data renders to `against`. */
export interface Hold {
  /** The version live while held: the copy `reconfig rollback` kept (its content, for the fleet report's digest). */
  version: number;
  /** The version that was put back (what the messages name); the same as `version` when absent. */
  of?: number;
  against: string;
  since: string;
  /**
   * The revision of the version live when the rollback by hand ran: what was rolled back from, and what a
   * rollout must halt. An agent restarted while held reports it (it has no apply of its own to tell it).
   * Absent in holds written before it was kept.
   */
  from?: number;
}

const META = 'meta.json';
const HOLD = 'hold.json';
const REFUSED = 'refused.json';

export class History {
  constructor(
    readonly dir: string,
    readonly keep: number,
  ) {}

  /** Every complete version, newest first. */
  list(): Version[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new ApplyError(`cannot read the history in ${this.dir}: ${errorMessage(err)}`, { cause: err });
    }
    const versions: Version[] = [];
    for (const name of names) {
      if (!/^[1-9][0-9]*$/.test(name)) continue;
      const meta = readJson<Version>(path.join(this.dir, name, META));
      if (meta) versions.push(meta);
    }
    return versions.sort((a, b) => b.n - a.n);
  }

  latest(): Version | undefined {
    return this.list()[0];
  }

  /** Version `n`'s files, in the target's order. */
  contents(v: Version): Buffer[] {
    return v.files.map((_, i) => {
      const file = path.join(this.dir, String(v.n), String(i));
      try {
        return readFileSync(file);
      } catch (err) {
        throw new ApplyError(`version ${v.n} of the history in ${this.dir} is damaged: ${errorMessage(err)}`, { cause: err });
      }
    });
  }

  /**
   * Keeps what `dests` hold now as a new version, unless it is what the newest version already holds. Returns
   * the new version, or undefined when nothing was kept. Older versions beyond `keep` are removed.
   */
  async record(dests: readonly string[], revision: number, note?: string): Promise<Version | undefined> {
    const live = await Promise.all(
      dests.map(async (dest) => {
        try {
          const [bytes, stat] = await Promise.all([fsp().readFile(dest), fsp().stat(dest)]);
          return { dest, bytes, stat };
        } catch (err) {
          throw new ApplyError(`cannot keep ${dest} in the history: ${errorMessage(err)}`, { cause: err });
        }
      }),
    );
    const digest = digestOf(live.map((f) => f.bytes));
    const versions = this.list();
    if (versions[0]?.digest === digest && note === undefined) return undefined;
    await fsp().mkdir(this.dir, { recursive: true, mode: 0o700 });
    // The next free number, taken by mkdir (which fails if another writer took it first: then the next one).
    let n = Math.max(0, ...versions.map((v) => v.n), ...this.partials()) + 1;
    for (;;) {
      try {
        await fsp().mkdir(path.join(this.dir, String(n)), { mode: 0o700 });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new ApplyError(`cannot keep a version in ${this.dir}: ${errorMessage(err)}`, { cause: err });
        n += 1;
      }
    }
    const version: Version = {
      n,
      revision,
      time: new Date().toISOString(),
      digest,
      files: live.map((f) => ({ dest: f.dest, mode: f.stat.mode & 0o7777, uid: f.stat.uid, gid: f.stat.gid, size: f.bytes.length })),
      ...(note === undefined ? {} : { note }),
    };
    const at = path.join(this.dir, String(n));
    try {
      // Off the event loop: the fsyncs cost milliseconds each, and other targets' applies go on meanwhile.
      await Promise.all(live.map((f, i) => writeDurable(path.join(at, String(i)), f.bytes, version.files[i])));
      await writeJsonDurable(path.join(at, META), version);
    } catch (err) {
      rmSync(at, { recursive: true, force: true });
      throw new ApplyError(`cannot keep version ${n} in ${this.dir}: ${errorMessage(err)}`, { cause: err });
    }
    this.prune();
    return version;
  }

  /** The hold a rollback by hand left (hold.json). */
  readonly holds = new Note<Hold>(this, HOLD);
  /** The render a verify refused (refused.json). */
  readonly refusals = new Note<Refusal>(this, REFUSED);

  /** Numbered directories without a meta.json: writes that were interrupted. */
  private partials(): number[] {
    try {
      return readdirSync(this.dir)
        .filter((name) => /^[1-9][0-9]*$/.test(name))
        .map(Number);
    } catch {
      return [];
    }
  }

  /**
   * Removes the versions beyond the newest `keep`, and interrupted writes over a minute old (a younger one may be
   * another writer's, in progress: a rollback by hand beside the agent).
   */
  private prune(): void {
    const all = this.list();
    const kept = new Set(all.slice(0, this.keep).map((v) => v.n));
    const complete = new Set(all.map((v) => v.n));
    for (const n of this.partials()) {
      const at = path.join(this.dir, String(n));
      if (complete.has(n) ? kept.has(n) : !olderThan(at, 60_000)) continue;
      rmSync(at, { recursive: true, force: true });
    }
  }

}

/** A small JSON file beside the versions (0600, renamed into place): read, written, removed. */
export class Note<V> {
  constructor(
    private readonly history: Pick<History, 'dir'>,
    private readonly name: string,
  ) {}

  /** The note's file. */
  get file(): string {
    return path.join(this.history.dir, this.name);
  }

  get(): V | undefined {
    return readJson<V>(this.file);
  }

  set(value: V): void {
    mkdirSync(this.history.dir, { recursive: true, mode: 0o700 });
    writeJson(path.join(this.history.dir, this.name), value);
  }

  clear(): void {
    rmSync(path.join(this.history.dir, this.name), { force: true });
  }
}

function olderThan(file: string, ms: number): boolean {
  try {
    return statSync(file).mtimeMs < Date.now() - ms;
  } catch {
    return false;
  }
}

/** A version's copy of a file: its bytes on disk, with the live file's mode and owner. */
async function writeDurable(file: string, bytes: Buffer, like: VersionFile): Promise<void> {
  const fh = await fsp().open(file, 'wx', like.mode & 0o777);
  try {
    await fh.writeFile(bytes);
    if (process.geteuid?.() === 0 && (like.uid !== 0 || like.gid !== 0)) await fh.chown(like.uid, like.gid);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** writeJson, off the event loop. */
async function writeJsonDurable(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await fsp().open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(value, null, 2)}\n`);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await fsp().rename(tmp, file);
}

/** JSON put in place by a rename, 0600. */
function writeJson(file: string, value: unknown): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(value, null, 2)}\n`);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

function readJson<V>(file: string): V | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as V;
  } catch {
    return undefined;
  }
}

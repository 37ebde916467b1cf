/**
 * A target's swap journal: a small file beside its first file (`.<name>.reconfig-journal`), written and synced
 * before the first rename of an apply that will reload, and removed once the reload is done. Found at start-up,
 * it means a crash came between a swap and its reload: the daemon may not have read the files the agent put in
 * place (or only some of a set), so the target owes a reload even if its files already match.
 */
import { closeSync, constants, existsSync, fdatasyncSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ApplyError, errorMessage } from '../errors';

export function journalPath(firstDest: string): string {
  return path.join(path.dirname(firstDest), `.${path.basename(firstDest)}.reconfig-journal`);
}

/** Writes the journal naming `dests`, its data on disk (the renames that follow sync the directory). */
export function writeJournal(dests: readonly string[]): void {
  const file = journalPath(dests[0]);
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
    const body = Buffer.from(`${JSON.stringify({ swapping: dests, at: new Date().toISOString() })}\n`);
    for (let off = 0; off < body.length; ) off += writeSync(fd, body, off);
    fdatasyncSync(fd);
  } catch (err) {
    throw new ApplyError(`cannot write the swap journal ${file}: ${errorMessage(err)}`, { cause: err });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Removes the journal if there is one; most applies have none, and asking is cheaper than a forced rmSync. */
export function clearJournal(firstDest: string): void {
  const file = journalPath(firstDest);
  if (!existsSync(file)) return;
  try {
    rmSync(file, { force: true });
  } catch (err) {
    throw new ApplyError(`cannot remove the swap journal ${file}: ${errorMessage(err)}`, { cause: err });
  }
}

export function hasJournal(firstDest: string): boolean {
  try {
    statSync(journalPath(firstDest));
    return true;
  } catch {
    return false;
  }
}

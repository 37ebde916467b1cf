/**
 * The `rollback` scenario (no etcd: the apply path alone, with real commands): from the verify's last failure on
 * the new file to the old file back and reloaded (p50, max), and the cost of one two-file apply against two
 * one-file targets applied one after the other (p50), and what `history` (keeping a version of the two files) and
 * the swap journal add to such an apply. Standalone: `node dist/test/bench/rollback.js`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { History } from '../../src/apply/history';
import { clearJournal, writeJournal } from '../../src/apply/journal';
import { applyTarget, type T } from '../../src/apply/pipeline';
import { applyVerified } from '../../src/apply/verify';
import type { TargetFile } from '../../src/target';
import { median, now, percentile, round, workDir } from './harness';

const file = (dest: string): TargetFile => ({ name: path.basename(dest), source: 'bench', render: () => '', dest });

/** Nanoseconds since the epoch, written by `date +%s%N` in a command: the clock the commands themselves read. */
const stamp = (f: string): number => Number(readFileSync(f, 'utf8').trim()) / 1e6;

export async function rollbackBench(quick: boolean): Promise<Record<string, number>> {
  const dir = workDir('rollback');
  const runs = quick ? 5 : 20;
  const dest = path.join(dir, 'app.conf');
  const failedAt = path.join(dir, 'failed-at');
  const reloadedAt = path.join(dir, 'reloaded-at');
  const t: T & { verify: { cmd: string; withinMs: number; everyMs: number } } = {
    id: 'bench',
    dest,
    files: [file(dest)],
    timeoutMs: 10_000,
    reloadcmd: `date +%s%N > ${reloadedAt}`,
    // Passes on the good file; on any other, records when it failed. One run (within 0): the failure is the last.
    verify: { cmd: `grep -q good ${dest} || { date +%s%N > ${failedAt}; exit 1; }`, withinMs: 0, everyMs: 100 },
  };
  const rollback: number[] = [];
  for (let i = 0; i < runs; i++) {
    writeFileSync(dest, `good ${i}\n`);
    await applyVerified(t, [`bad ${i}\n`]).catch(() => undefined);
    if (readFileSync(dest, 'utf8') !== `good ${i}\n`) throw new Error('the rollback did not put the old file back');
    rollback.push(stamp(reloadedAt) - stamp(failedAt));
  }
  // A set of two files against two targets of one file each, every apply changing both files.
  const a = path.join(dir, 'a.conf');
  const b = path.join(dir, 'b.map');
  const base = { id: 'bench', timeoutMs: 10_000, reloadcmd: 'true' };
  const set: T = { ...base, dest: a, files: [file(a), file(b)] };
  const one = (d: string): T => ({ ...base, dest: d, files: [file(d)] });
  const [ta, tb] = [one(a), one(b)];
  const pair: number[] = [];
  const single: number[] = [];
  for (let i = 0; i < runs * 2; i++) {
    let t0 = now();
    await applyTarget(set, [`a ${i}\n`, `b ${i}\n`]);
    pair.push(now() - t0);
    t0 = now();
    await applyTarget(ta, [`a ${i}.\n`]);
    await applyTarget(tb, [`b ${i}.\n`]);
    single.push(now() - t0);
  }
  // What `history` adds to an apply of that set: keeping both files as a version (fsynced), pruned to 5.
  const history = new History(path.join(dir, 'state', 'bench'), 5);
  const keep: number[] = [];
  // What the swap journal costs each apply that reloads: written (fsynced) before the swap, removed after.
  const journal: number[] = [];
  for (let i = 0; i < runs * 2; i++) {
    writeFileSync(a, `a ${i} kept\n`);
    writeFileSync(b, `b ${i} kept\n`);
    let t0 = now();
    if (!(await history.record([a, b], i + 1))) throw new Error('the history kept no version of changed files');
    keep.push(now() - t0);
    t0 = now();
    writeJournal([a, b]);
    clearJournal(a);
    journal.push(now() - t0);
  }
  return {
    history_keep_p50_ms: round(median(keep)),
    journal_p50_ms: round(median(journal)),
    rollback_p50_ms: round(median(rollback)),
    rollback_max_ms: round(percentile(rollback, 100)),
    two_file_apply_p50_ms: round(median(pair)),
    two_one_file_applies_p50_ms: round(median(single)),
  };
}

if (require.main === module) {
  void rollbackBench(process.argv.includes('--quick')).then((r) => console.log(JSON.stringify(r, null, 2)));
}

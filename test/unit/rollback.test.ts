/**
 * Rollback's states on one runner, with a fake clock for the verify's loop: a verify that fails within `within`
 * puts the previous file back and reloads again; the refused render is remembered (no second reload for the same
 * bytes); new data applies; and old files failing the verify too end at `failed`, never in a loop. The verify and
 * reload commands are real processes; only their timing is fake.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { noObserver } from '../../src/agent/observer';
import type { Observer } from '../../src/agent/ports';
import { TargetRunner } from '../../src/agent/runner';
import type { Clock } from '../../src/apply/verify';
import { fakeTarget, memoryLogger } from '../support/fake-target';
import { tempDir } from '../support/util';

/** A clock whose sleep only moves its time on. */
function fakeClock(): Clock & { slept: number[] } {
  let t = 0;
  const slept: number[] = [];
  return { now: () => t, sleep: (ms) => ((t += ms), slept.push(ms), Promise.resolve()), slept };
}

const lines = (file: string): string[] => {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

function setUp(verifyCmd: string) {
  const dir = tempDir();
  const reloads = path.join(dir, 'reloads');
  const { log, lines: logs } = memoryLogger();
  const clock = fakeClock();
  const rolled: Array<{ revision: number; output: string }> = [];
  const failed: string[] = [];
  const observer: Observer = { ...noObserver, rolledBack: (_id, revision, _m, output) => rolled.push({ revision, output }), failed: (_id, stage) => failed.push(stage) };
  const t = fakeTarget('rb', {
    reloadcmd: `cat "$RECONFIG_DEST" >> ${reloads}`,
    verify: { cmd: verifyCmd, withinMs: 3000, everyMs: 1000 },
  });
  const runner = new TargetRunner(t, { prefix: '', notreally: false, log, print: () => undefined, observer, verifyClock: clock }, { manual: true });
  return { t, runner, reloads, logs, clock, rolled, failed };
}

test('a failed verify rolls back: the old file, a reload of it, the verify again; the same render is not applied twice; new data applies', async () => {
  // Healthy while the file holds no "dead" value.
  const { t, runner, reloads, clock, rolled } = setUp('! grep -q dead "$RECONFIG_DEST" && echo healthy || { echo "503 from every backend"; exit 1; }');
  runner.load([{ key: '/rb/a', value: 'live' }], 1);
  assert.equal((await runner.applyNow()).ok, true);
  assert.equal(readFileSync(t.dest, 'utf8'), '/rb/a=live\n');
  assert.deepEqual(lines(reloads), ['/rb/a=live']);

  runner.update([{ type: 'put', key: '/rb/a', value: 'dead', revision: 2 }], 2);
  const bad = await runner.applyNow();
  assert.equal(bad.ok, false);
  assert.equal(bad.rolledBack, true);
  assert.equal(bad.error?.stage, 'verify');
  assert.equal(readFileSync(t.dest, 'utf8'), '/rb/a=live\n', 'the previous file is back');
  // The new file was reloaded, then the old one again.
  assert.deepEqual(lines(reloads), ['/rb/a=live', '/rb/a=dead', '/rb/a=live']);
  // Within 3 s, every 1 s: the runs at 0, 1, 2 and 3 s failed; the old file passed at once.
  assert.deepEqual(clock.slept, [1000, 1000, 1000]);
  assert.deepEqual(rolled, [{ revision: 2, output: '503 from every backend\n' }]);

  // The same data again (a resync, say): not applied, not reloaded, still rolled back.
  const again = await runner.applyNow();
  assert.equal(again.rolledBack, true);
  assert.deepEqual(lines(reloads), ['/rb/a=live', '/rb/a=dead', '/rb/a=live'], 'no reload loop');

  // Data that renders differently applies.
  runner.update([{ type: 'put', key: '/rb/a', value: 'live2', revision: 3 }], 3);
  const good = await runner.applyNow();
  assert.equal(good.ok, true);
  assert.equal(readFileSync(t.dest, 'utf8'), '/rb/a=live2\n');
  assert.equal(lines(reloads).at(-1), '/rb/a=live2');
});

test('old files that fail the verify too: both failures told, the old file stays, failed at verify, no loop', async () => {
  const dir = tempDir();
  const health = path.join(dir, 'health');
  writeFileSync(health, 'ok\n');
  // The verify reads a health file the test controls, whatever the target holds.
  const { t, runner, reloads, logs, rolled, failed } = setUp(`grep -q ok ${health} || { echo "backend down"; exit 1; }`);
  runner.load([{ key: '/rb/a', value: '1' }], 1);
  assert.equal((await runner.applyNow()).ok, true);
  writeFileSync(health, 'down\n');
  runner.update([{ type: 'put', key: '/rb/a', value: '2', revision: 2 }], 2);
  const out = await runner.applyNow();
  assert.equal(out.ok, false);
  assert.equal(out.rolledBack, undefined);
  assert.equal(out.error?.stage, 'verify');
  assert.match(out.error?.message ?? '', /the previous files are back but fail it too .*backend down.*; they stay/);
  assert.equal(readFileSync(t.dest, 'utf8'), '/rb/a=1\n', 'the old file stays: it was live before');
  assert.deepEqual(rolled, []);
  assert.deepEqual(failed, ['verify']);
  const line = logs.find((l) => l.msg === 'verify failed on the new files and on the previous ones; the previous files stay');
  assert.ok(line && line.output === 'backend down\n' && line.previousOutput === 'backend down\n', 'both failures logged');
  const reloadsAfter = lines(reloads).length;
  // The same render once more: remembered, not applied again.
  await runner.applyNow();
  assert.equal(lines(reloads).length, reloadsAfter, 'never a loop');
});

test('a reload of the old files that fails is a reload owed, not a remembered refusal: the next apply tries again and ends on the old files', async () => {
  const dir = tempDir();
  const count = path.join(dir, 'count');
  const reloads = path.join(dir, 'reloads');
  const { log } = memoryLogger();
  // The third reload fails: the first apply's, the bad file's, then the old file's.
  const reloadcmd = `n=$(cat ${count} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${count}; cat "$RECONFIG_DEST" >> ${reloads}; [ "$n" != 3 ]`;
  const t = fakeTarget('rr', { reloadcmd, verify: { cmd: '! grep -q dead "$RECONFIG_DEST"', withinMs: 0, everyMs: 1000 } });
  const runner = new TargetRunner(t, { prefix: '', notreally: false, log, print: () => undefined, observer: noObserver, verifyClock: fakeClock() }, { manual: true });
  runner.load([{ key: '/rr/a', value: 'live' }], 1);
  assert.equal((await runner.applyNow()).ok, true);
  runner.update([{ type: 'put', key: '/rr/a', value: 'dead', revision: 2 }], 2);
  const failed = await runner.applyNow();
  assert.equal(failed.error?.stage, 'reload');
  assert.match(failed.error?.message ?? '', /the previous files are back, but reloading them failed/);
  assert.equal(readFileSync(t.dest, 'utf8'), '/rr/a=live\n');
  // Not remembered as refused: the next apply runs, and ends with the daemon reloaded on the old file.
  const next = await runner.applyNow();
  assert.equal(next.rolledBack, true);
  assert.equal(lines(reloads).at(-1), '/rr/a=live');
  assert.equal(readFileSync(t.dest, 'utf8'), '/rr/a=live\n');
});

test('a reload that was owed is verified too; with no change to roll back, its failure is told as it is', async () => {
  const dir = tempDir();
  const health = path.join(dir, 'health');
  writeFileSync(health, 'ok\n');
  const { t, runner, reloads } = setUp(`grep -q ok ${health}`);
  runner.load([{ key: '/rb/a', value: '1' }], 1);
  await runner.applyNow();
  // A crash between the swap and its reload, seen at start-up: the same files, a reload owed.
  const fresh = new TargetRunner(t, { prefix: '', notreally: false, log: memoryLogger().log, print: () => undefined, observer: noObserver, verifyClock: fakeClock() }, { manual: true });
  fresh.oweReload();
  fresh.load([{ key: '/rb/a', value: '1' }], 1);
  writeFileSync(health, 'down\n');
  const out = await fresh.applyNow();
  assert.equal(out.error?.stage, 'verify');
  assert.match(out.error?.message ?? '', /already in place .*nothing to roll back to/);
  assert.equal(readFileSync(t.dest, 'utf8'), '/rb/a=1\n');
  assert.equal(lines(reloads).length, 2, 'the owed reload ran, and only it');
});

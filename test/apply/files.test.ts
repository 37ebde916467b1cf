import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { stage } from '../../src/apply/files';
import { syncDirectory } from '../../src/apply/sync';
import { ApplyError } from '../../src/errors';
import { tempDir } from '../support/util';

/** Math.random giving `values` in turn (then the last again), for the length of `fn`. */
async function withRandom<T>(values: number[], fn: () => Promise<T>): Promise<T> {
  const real = Math.random;
  let i = 0;
  Math.random = () => values[Math.min(i++, values.length - 1)];
  try {
    return await fn();
  } finally {
    Math.random = real;
  }
}

test('a staged name that is taken is drawn again, and the file that held it is left alone', async () => {
  const dir = tempDir();
  const dest = path.join(dir, 'x.conf');
  // 0.5 draws 800000 twice: the first name is .x.conf.reconfig-800000800000.
  const taken = path.join(dir, '.x.conf.reconfig-800000800000');
  writeFileSync(taken, 'not ours');
  const staged = await withRandom([0.5, 0.5, 0.25, 0.25], () => stage(dest, Buffer.from('new\n'), {}, null));
  assert.equal(path.basename(staged), '.x.conf.reconfig-400000400000');
  assert.equal(readFileSync(staged, 'utf8'), 'new\n');
  assert.equal(readFileSync(taken, 'utf8'), 'not ours');
});

test('when every draw is taken, stage fails naming the target, and removes nothing it did not create', async () => {
  const dir = tempDir();
  const dest = path.join(dir, 'x.conf');
  const taken = path.join(dir, '.x.conf.reconfig-800000800000');
  writeFileSync(taken, 'not ours');
  await assert.rejects(
    withRandom([0.5], () => stage(dest, Buffer.from('new\n'), {}, null)),
    (err: unknown) => err instanceof ApplyError && err.message.startsWith(`cannot stage ${dest}: `) && /EEXIST/.test(err.message),
  );
  assert.equal(readFileSync(taken, 'utf8'), 'not ours');
  assert.deepEqual(readdirSync(dir), [path.basename(taken)]);
});

test('renames in one directory share its syncs: callers before a sync starts join it, callers during it queue one more', async () => {
  const started: Array<() => void> = [];
  const sync = (): Promise<void> => new Promise<void>((resolve) => started.push(resolve));
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
  const settled = new Set<number>();
  const call = (i: number): Promise<void> => syncDirectory('/fake/dir', sync).then(() => void settled.add(i));
  const first = [call(0), call(1), call(2)];
  await tick();
  assert.equal(started.length, 1, 'three renames before the first sync started share it');
  const second = [call(3), call(4)];
  await tick();
  assert.equal(started.length, 1, 'a rename during a sync waits for the next one, which has not started yet');
  started[0]();
  await Promise.all(first);
  assert.deepEqual([...settled].sort(), [0, 1, 2]);
  await tick();
  assert.equal(started.length, 2, 'the next sync starts once the running one is done');
  assert.ok(!settled.has(3) && !settled.has(4), 'a rename made during the first sync is not covered by it');
  started[1]();
  await Promise.all(second);
  // Another directory has syncs of its own.
  const other = syncDirectory('/fake/other', sync);
  await tick();
  assert.equal(started.length, 3);
  started[2]();
  await other;
});

test('a directory sync that fails rejects every rename that shared it; the next one starts afresh', async () => {
  let fail = true;
  const sync = (): Promise<void> => (fail ? Promise.reject(new Error('EIO')) : Promise.resolve());
  const results = await Promise.allSettled([syncDirectory('/fake/eio', sync), syncDirectory('/fake/eio', sync)]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  fail = false;
  await syncDirectory('/fake/eio', sync);
});

import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { stage } from '../../src/apply/files';
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

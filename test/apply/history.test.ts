/**
 * The history store on its own (a temporary directory): a version only when the files changed, pruning to
 * `keep`, an interrupted write never listed and never reused, and holds.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { digestOf, History } from '../../src/apply/history';
import { tempDir } from '../support/util';

test('a version is kept only when the files changed; the newest first; pruned to keep', async () => {
  const root = tempDir();
  const a = path.join(root, 'a.conf');
  const b = path.join(root, 'b.map');
  const h = new History(path.join(root, 'state', 'web'), 2);
  writeFileSync(a, 'a1\n');
  writeFileSync(b, 'b1\n');
  assert.equal((await h.record([a, b], 10))?.n, 1);
  assert.equal(await h.record([a, b], 11), undefined, 'the same bytes: no new version');
  writeFileSync(b, 'b2\n');
  assert.equal((await h.record([a, b], 12))?.n, 2);
  writeFileSync(a, 'a3\n');
  assert.equal((await h.record([a, b], 13))?.n, 3);
  const versions = h.list();
  assert.deepEqual(versions.map((v) => [v.n, v.revision]), [[3, 13], [2, 12]]);
  assert.deepEqual(h.contents(versions[1]).map(String), ['a1\n', 'b2\n']);
  assert.equal(versions[0].digest, digestOf(['a3\n', 'b2\n']), 'the digest of bytes on disk is the digest of the render');
  assert.deepEqual(readdirSync(h.dir).sort(), ['2', '3']);
});

test('an interrupted write (no meta.json) is not listed, its number not reused, and pruned later', async () => {
  const root = tempDir();
  const a = path.join(root, 'a.conf');
  const h = new History(path.join(root, 'state', 'web'), 1);
  writeFileSync(a, 'one\n');
  await h.record([a], 1);
  mkdirSync(path.join(h.dir, '2'));
  writeFileSync(path.join(h.dir, '2', '0'), 'half');
  // An hour old: a crash's leftover, not another writer's version in progress.
  const old = new Date(Date.now() - 3_600_000);
  utimesSync(path.join(h.dir, '2'), old, old);
  assert.deepEqual(h.list().map((v) => v.n), [1]);
  writeFileSync(a, 'two\n');
  assert.equal((await h.record([a], 2))?.n, 3);
  assert.deepEqual(readdirSync(h.dir).sort(), ['3']);
});

test('a note always makes a version; holds are kept and cleared', async () => {
  const root = tempDir();
  const a = path.join(root, 'a.conf');
  const h = new History(path.join(root, 'state', 'web'), 5);
  writeFileSync(a, 'x\n');
  await h.record([a], 1);
  assert.equal((await h.record([a], 1, 'rollback to 1'))?.note, 'rollback to 1');
  assert.equal(h.holds.get(), undefined);
  h.holds.set({ version: 1, against: 'abc', since: 'now' });
  assert.deepEqual(h.holds.get(), { version: 1, against: 'abc', since: 'now' });
  h.holds.clear();
  assert.equal(h.holds.get(), undefined);
});

test('two writers at once: each keeps its own version, and neither removes the other', async () => {
  const root = tempDir();
  const a = path.join(root, 'a.conf');
  const b = path.join(root, 'b.conf');
  const h = new History(path.join(root, 'state', 'web'), 5);
  writeFileSync(a, 'from the agent\n');
  writeFileSync(b, 'from a rollback\n');
  const [x, y] = await Promise.all([h.record([a], 1), h.record([b], 2, 'rollback to 1')]);
  assert.notEqual(x?.n, y?.n);
  assert.deepEqual(h.list().map((v) => v.n).sort(), [x?.n, y?.n].sort());
});

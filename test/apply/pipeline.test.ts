import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { refusedPath, removeStale } from '../../src/apply/files';
import { applyOne, type OneFile } from '../support/apply-one';
import { CheckError, CommandError, TargetError } from '../../src/errors';
import { tempDir } from '../support/util';

function target(over: Partial<OneFile> = {}): OneFile {
  const dir = tempDir();
  return { id: 't', dest: path.join(dir, 'out.conf'), timeoutMs: 10_000, ...over };
}

/** Staged files beside `dest` (`.<name>.reconfig-<12 hex>`); a refused file kept after a failed check is not one. */
const staged = (dest: string): string[] => readdirSync(path.dirname(dest)).filter((n) => /^\..*\.reconfig-[0-9a-f]{12}$/.test(n));

test('a new file is written with mode 0644 and reload runs', async () => {
  const dir = tempDir();
  const log = path.join(dir, 'reloads');
  const t = target({ reloadcmd: `echo reloaded >> ${log}` });
  const res = await applyOne(t, 'hello\n');
  assert.deepEqual(res, { changed: true, reloaded: true });
  assert.equal(readFileSync(t.dest, 'utf8'), 'hello\n');
  assert.equal(statSync(t.dest).mode & 0o777, 0o644);
  assert.equal(readFileSync(log, 'utf8'), 'reloaded\n');
  assert.deepEqual(staged(t.dest), []);
});

test('the same bytes stop the pipeline: no write, no reload', async () => {
  const dir = tempDir();
  const log = path.join(dir, 'reloads');
  const t = target({ reloadcmd: `echo reloaded >> ${log}`, checkcmd: `echo checked >> ${log}` });
  writeFileSync(t.dest, 'same\n');
  const before = statSync(t.dest).ino;
  assert.deepEqual(await applyOne(t, 'same\n'), { changed: false, reloaded: false });
  assert.equal(statSync(t.dest).ino, before);
  assert.equal(existsSync(log), false);
});

test('an existing mode is kept; an explicit mode wins', async () => {
  const t = target();
  writeFileSync(t.dest, 'old\n');
  chmodSync(t.dest, 0o600);
  await applyOne(t, 'new\n');
  assert.equal(statSync(t.dest).mode & 0o777, 0o600);
  await applyOne({ ...t, mode: 0o640 }, 'newer\n');
  assert.equal(statSync(t.dest).mode & 0o777, 0o640);
});

test('owner and group are applied to the staged file, and kept from the existing file by default', { skip: process.getuid?.() !== 0 && 'needs root to chown' }, async () => {
  const t = target({ uid: 65534, gid: 65534, mode: 0o640 });
  await applyOne(t, 'owned\n');
  assert.equal(statSync(t.dest).uid, 65534);
  assert.equal(statSync(t.dest).gid, 65534);
  assert.equal(statSync(t.dest).mode & 0o777, 0o640);
  // Without owner/group/mode in the target, the next write keeps what the file has.
  await applyOne({ ...t, uid: undefined, gid: undefined, mode: undefined }, 'still owned\n');
  assert.equal(statSync(t.dest).uid, 65534);
  assert.equal(statSync(t.dest).gid, 65534);
  assert.equal(statSync(t.dest).mode & 0o777, 0o640);
});

test('checkcmd sees the staged file through {{src}} and RECONFIG_SRC/RECONFIG_DEST', async () => {
  const dir = tempDir();
  const seen = path.join(dir, 'seen');
  const t = target({ checkcmd: `cat {{src}} > ${seen}; echo "$RECONFIG_SRC $RECONFIG_DEST" >> ${seen}; grep -q good {{src}}` });
  await applyOne(t, 'good\n');
  const lines = readFileSync(seen, 'utf8').split('\n');
  assert.equal(lines[0], 'good');
  const [src, dest] = lines[1].split(' ');
  assert.equal(path.dirname(src), path.dirname(t.dest), 'staged next to the target');
  assert.equal(dest, t.dest);
});

test('a failed check keeps the bytes, removes the staged file, keeps the refused one, skips reload and reports code and output', async () => {
  const dir = tempDir();
  const log = path.join(dir, 'reloads');
  const t = target({ checkcmd: 'echo "line 3: bad backend" >&2; exit 3 # {{src}}', reloadcmd: `echo r >> ${log}` });
  writeFileSync(t.dest, 'good\n');
  await assert.rejects(applyOne(t, 'broken\n'), (err: unknown) => {
    assert.ok(err instanceof TargetError);
    assert.equal(err.stage, 'check');
    assert.ok(err.cause instanceof CheckError && err.cause instanceof CommandError);
    assert.equal(err.cause.code, 3);
    assert.equal(err.cause.output, 'line 3: bad backend\n');
    assert.equal(err.cause.refused, refusedPath(t.dest));
    assert.ok(err.cause.cause instanceof CommandError, 'the command error is the cause');
    assert.match(err.message, /checkcmd `.*` exited 3: line 3: bad backend; the refused file is kept as \S+out\.conf\.reconfig-refused$/);
    return true;
  });
  assert.equal(readFileSync(t.dest, 'utf8'), 'good\n');
  assert.equal(readFileSync(refusedPath(t.dest), 'utf8'), 'broken\n');
  assert.equal(statSync(refusedPath(t.dest)).mode & 0o777, 0o600);
  assert.deepEqual(staged(t.dest), []);
  assert.equal(existsSync(log), false);
  // A failed check never blocks a later good update (confd #178).
  await applyOne({ ...t, checkcmd: 'true {{src}}' }, 'fixed\n');
  assert.equal(readFileSync(t.dest, 'utf8'), 'fixed\n');
});

test('the error names the output line that reads as an error, not a banner printed before it', async () => {
  // As haproxy 2.6 prints without -q: NOTICE lines first, then the ALERT that says why.
  const t = target({ checkcmd: `printf '[NOTICE] version 2.6\\n[NOTICE] path\\n[ALERT] config : invalid port 99999\\n' >&2; exit 1 # {{src}}` });
  await assert.rejects(applyOne(t, 'x\n'), /exited 1: \[ALERT\] config : invalid port 99999 \(\+2 more line\(s\) in "output"\)/);
  // With no such line, the first line is shown.
  const plain = target({ checkcmd: 'echo "Expected \';\' got \'.\'"; echo "(line 2)"; exit 2 # {{src}}' });
  await assert.rejects(applyOne(plain, 'x\n'), /exited 2: Expected ';' got '\.' \(\+1 more line\(s\) in "output"\)/);
});

test('a check of the live path: swap, check, and restore the old bytes and mode when it fails', async () => {
  const t = target({ checkcmd: 'grep -q good "$RECONFIG_DEST"' });
  writeFileSync(t.dest, 'good old\n');
  chmodSync(t.dest, 0o640);
  await assert.rejects(applyOne(t, 'bad\n'), /checkcmd `grep -q good "\$RECONFIG_DEST"` exited 1/);
  assert.equal(readFileSync(t.dest, 'utf8'), 'good old\n');
  assert.equal(statSync(t.dest).mode & 0o777, 0o640);
  await applyOne(t, 'good new\n');
  assert.equal(readFileSync(t.dest, 'utf8'), 'good new\n');
  // With no earlier file, a failed live check leaves no file.
  const fresh = target({ checkcmd: 'false' });
  await assert.rejects(applyOne(fresh, 'x\n'));
  assert.equal(existsSync(fresh.dest), false);
});

test('when putting the old file back fails after a failed live check, both errors are reported', async () => {
  // The check replaces the target's directory with a file, so the old bytes cannot be staged beside it.
  const dir = path.join(tempDir(), 'etc');
  const t = target({ dest: path.join(dir, 'out.conf'), checkcmd: `rm -rf ${dir} && echo broken > ${dir} && echo "refused by check"; exit 3` });
  await applyOne({ ...t, checkcmd: undefined }, 'good old\n');
  await assert.rejects(applyOne(t, 'bad\n'), (err: unknown) => {
    assert.ok(err instanceof TargetError && err.stage === 'swap', String(err));
    assert.match(err.message, /checkcmd `.*` exited 3: refused by check; keeping the refused file failed too: .*ENOTDIR.*; then putting the previous file back failed: .*ENOTDIR/);
    const both = (err.cause as Error).cause;
    assert.ok(both instanceof AggregateError && both.errors.length === 2);
    assert.ok(both.errors[0] instanceof TargetError && both.errors[0].stage === 'check');
    return true;
  });
});

test('a failed reload is reported; the new file stays; a pending reload runs again on unchanged bytes', async () => {
  const dir = tempDir();
  const flag = path.join(dir, 'ok');
  const t = target({ reloadcmd: `test -e ${flag} || { echo not yet; exit 4; }` });
  await assert.rejects(applyOne(t, 'v1\n'), (err: unknown) => err instanceof TargetError && err.stage === 'reload' && /exited 4: not yet/.test(err.message));
  assert.equal(readFileSync(t.dest, 'utf8'), 'v1\n');
  writeFileSync(flag, '');
  assert.deepEqual(await applyOne(t, 'v1\n', { reloadPending: true }), { changed: false, reloaded: true });
});

test('a command that runs too long is stopped and reported as timed out', async () => {
  const t = target({ checkcmd: 'sleep 30 # {{src}}', timeoutMs: 300 });
  const started = Date.now();
  await assert.rejects(applyOne(t, 'x\n'), /checkcmd `sleep 30 # '[^']*out.conf.reconfig-[0-9a-f]+'` timed out/);
  assert.ok(Date.now() - started < 20_000);
  assert.equal(existsSync(t.dest), false);
});

test('a path with spaces and quotes is shell-quoted in {{src}}', async () => {
  const dir = path.join(tempDir(), "it's a dir");
  const t = target({ dest: path.join(dir, 'out.conf'), checkcmd: 'grep -q ok {{src}}' });
  await applyOne(t, 'ok\n');
  assert.equal(readFileSync(t.dest, 'utf8'), 'ok\n');
});

test('rendered values never reach a command line; the check reads them from the staged file, not the live one', async () => {
  const dir = tempDir();
  const pwned = path.join(dir, 'pwned');
  // The check passes only on the new bytes, in a file that is not the live target: a check that ran on
  // anything else (the old file, the live path, a path with the content pasted in) would fail the apply.
  const checkcmd = `grep -qx 'new render' {{src}} && grep -qF '$(touch' {{src}} && test ! {{src}} -ef "$RECONFIG_DEST" && test {{src}} = "$RECONFIG_SRC"`;
  const t = target({ checkcmd, reloadcmd: 'true' });
  writeFileSync(t.dest, 'old render\n');
  const content = `new render\n$(touch ${pwned})\n\`touch ${pwned}\`\n`;
  assert.deepEqual(await applyOne(t, content), { changed: true, reloaded: true });
  assert.equal(readFileSync(t.dest, 'utf8'), content);
  assert.equal(existsSync(pwned), false);
  // The same check pointed at the live path refuses the same kind of change: it tells the two apart.
  const live = checkcmd.replaceAll('{{src}}', '"$RECONFIG_DEST"');
  await assert.rejects(applyOne({ ...t, checkcmd: live }, `${content}one more line\n`), /checkcmd `grep .*` exited 1/);
  assert.equal(readFileSync(t.dest, 'utf8'), content, 'the refused change was put back');
  assert.equal(existsSync(pwned), false);
});

test('notreally: a unified diff, nothing written, no command run', async () => {
  const dir = tempDir();
  const log = path.join(dir, 'ran');
  const t = target({ checkcmd: `touch ${log} # {{src}}`, reloadcmd: `touch ${log}` });
  writeFileSync(t.dest, 'a\nb\n');
  const res = await applyOne(t, 'a\nc\n', { notreally: true });
  assert.equal(res.changed, true);
  assert.match(res.diff!, /^-b$/m);
  assert.match(res.diff!, /^\+c$/m);
  assert.match(res.diff!, /^--- .*out\.conf\tcurrent$/m);
  assert.equal(readFileSync(t.dest, 'utf8'), 'a\nb\n');
  assert.equal(existsSync(log), false);
  assert.deepEqual(await applyOne(t, 'a\nb\n', { notreally: true }), { changed: false, reloaded: false, diff: undefined });
});

test('staged files left by a crash are removed; others, the kept refused file among them, are not', () => {
  const t = target();
  const dir = path.dirname(t.dest);
  writeFileSync(path.join(dir, '.out.conf.reconfig-0123456789ab'), 'partial');
  writeFileSync(path.join(dir, '.out.conf.keep'), 'x');
  writeFileSync(refusedPath(t.dest), 'refused');
  const removed = removeStale(t.dest);
  assert.deepEqual(removed, [path.join(dir, '.out.conf.reconfig-0123456789ab')]);
  assert.ok(existsSync(path.join(dir, '.out.conf.keep')));
  assert.ok(existsSync(refusedPath(t.dest)));
});

/**
 * A file that a check refuses is kept beside the target (`<target>.reconfig-refused`, mode 0600) and named in
 * the error, so that the operator can see why and run the check by hand. The check is the real haproxy -c.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { keepRefused, refusedPath, removeStale } from '../../src/apply/files';
import { applyOne, type OneFile } from '../support/apply-one';
import { CheckError, TargetError } from '../../src/errors';
import { HAPROXY_HEAD } from '../support/haproxy';
import { tempDir } from '../support/util';

const HAPROXY = (server: string): string => `${HAPROXY_HEAD}    server ${server} check
`;

type T = OneFile;

function haproxyTarget(over: Partial<T> = {}): T {
  return { id: 'haproxy', dest: path.join(tempDir(), 'haproxy.cfg'), checkcmd: 'haproxy -c -f {{src}}', reloadcmd: 'true', timeoutMs: 30_000, ...over };
}

/** The CheckError inside a TargetError at stage `check`, or a failed assertion. */
async function refusal(p: Promise<unknown>): Promise<{ err: TargetError; check: CheckError }> {
  let caught: unknown;
  await p.catch((e: unknown) => (caught = e));
  assert.ok(caught instanceof TargetError, `expected a TargetError, got ${String(caught)}`);
  assert.equal(caught.stage, 'check');
  assert.ok(caught.cause instanceof CheckError, String(caught.cause));
  return { err: caught, check: caught.cause };
}

const modeOf = (file: string): number => statSync(file).mode & 0o777;

test('haproxy refuses a port of 99999: its ALERT is in the error, the refused file is kept 0600, the target keeps its bytes', async () => {
  const t = haproxyTarget({ mode: 0o644 });
  await applyOne(t, HAPROXY('web1 10.0.0.1:80'));
  const good = readFileSync(t.dest, 'utf8');
  const ino = statSync(t.dest).ino;

  const bad = HAPROXY('web1 10.0.0.1:99999');
  const { err, check } = await refusal(applyOne(t, bad));
  const kept = refusedPath(t.dest);
  assert.equal(kept, `${t.dest}.reconfig-refused`);
  // The one-line message picks haproxy's ALERT over the NOTICE lines it prints first, and names the kept file.
  assert.match(err.message, /^target haproxy: checkcmd `haproxy -c -f '[^']+'` exited 1: \[ALERT\].*'server web\/web1' : invalid port '99999' \(\+\d+ more line\(s\) in "output"\); the refused file is kept as (\S+)$/);
  assert.ok(err.message.endsWith(`kept as ${kept}`), err.message);
  assert.equal(check.refused, kept);
  assert.equal(check.code, 1);
  assert.match(check.output, /\[ALERT\].*Fatal errors found in configuration/);
  assert.equal(readFileSync(kept, 'utf8'), bad);
  assert.equal(modeOf(kept), 0o600, 'mode 0600 whatever the target has');
  assert.equal(statSync(kept).uid, process.geteuid?.());
  assert.equal(readFileSync(t.dest, 'utf8'), good, 'the target keeps its bytes');
  assert.equal(statSync(t.dest).ino, ino, 'and is the same file');
  assert.deepEqual(readdirSync(path.dirname(t.dest)).sort(), ['haproxy.cfg', 'haproxy.cfg.reconfig-refused'], 'no staged file is left');

  // The operator runs the check by hand on the kept file and sees the same reason.
  const byHand = spawnSync('haproxy', ['-c', '-f', kept], { encoding: 'utf8' });
  assert.equal(byHand.status, 1);
  assert.match(byHand.stderr, /invalid port '99999'/);

  // A second refusal replaces the kept file (atomically: a new inode, never a half-written one).
  const keptIno = statSync(kept).ino;
  const worse = HAPROXY('web1 10.0.0.1:http-alt-nope');
  const second = await refusal(applyOne(t, worse));
  assert.equal(second.check.refused, kept);
  assert.equal(readFileSync(kept, 'utf8'), worse);
  assert.notEqual(statSync(kept).ino, keptIno);
  assert.equal(modeOf(kept), 0o600);
  assert.equal(readFileSync(t.dest, 'utf8'), good);

  // The start-up cleanup of staged files leaves the kept file alone.
  assert.deepEqual(removeStale(t.dest), []);
  assert.ok(existsSync(kept));

  // A good change applies, and leaves the kept file for the operator to look at.
  await applyOne(t, HAPROXY('web1 10.0.0.2:80'));
  assert.match(readFileSync(t.dest, 'utf8'), /server web1 10\.0\.0\.2:80 check/);
  assert.equal(readFileSync(kept, 'utf8'), worse);
});

test('a refused file is 0600 and ours even when the target is 0644 and owned by someone else', { skip: process.getuid?.() !== 0 && 'needs root to chown' }, async () => {
  const t = haproxyTarget({ mode: 0o644, uid: 65534, gid: 65534 });
  await applyOne(t, HAPROXY('web1 10.0.0.1:80'));
  assert.equal(statSync(t.dest).uid, 65534);
  const { check } = await refusal(applyOne(t, HAPROXY('web1 10.0.0.1:99999')));
  const st = statSync(check.refused!);
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal(st.uid, 0);
  assert.equal(st.gid, process.getegid?.());
});

test('a check of the live path that refuses: the old file is put back and the refused bytes are kept', async () => {
  // Without {{src}} the check reads the live path: haproxy -c on "$RECONFIG_DEST".
  const t = haproxyTarget({ checkcmd: 'haproxy -c -f "$RECONFIG_DEST"' });
  await applyOne(t, HAPROXY('web1 10.0.0.1:80'));
  chmodSync(t.dest, 0o640);
  const good = readFileSync(t.dest, 'utf8');
  const bad = HAPROXY('web1 10.0.0.1:99999');
  const { err, check } = await refusal(applyOne(t, bad));
  assert.match(err.message, /invalid port '99999'.*; the refused file is kept as /);
  assert.equal(readFileSync(check.refused!, 'utf8'), bad);
  assert.equal(modeOf(check.refused!), 0o600);
  assert.equal(readFileSync(t.dest, 'utf8'), good);
  assert.equal(modeOf(t.dest), 0o640);
});

test('notreally runs no check and leaves no refused file', async () => {
  const t = haproxyTarget();
  await applyOne(t, HAPROXY('web1 10.0.0.1:80'));
  const res = await applyOne(t, HAPROXY('web1 10.0.0.1:99999'), { notreally: true });
  assert.equal(res.changed, true);
  assert.match(res.diff!, /^\+ {4}server web1 10\.0\.0\.1:99999 check$/m);
  assert.equal(existsSync(refusedPath(t.dest)), false);
  assert.deepEqual(readdirSync(path.dirname(t.dest)), ['haproxy.cfg']);
});

test('when the refused file cannot be kept, the error still says why the check refused, and why it was not kept', async () => {
  const t = haproxyTarget();
  await applyOne(t, HAPROXY('web1 10.0.0.1:80'));
  // A directory where the kept file would go: rename(2) cannot replace it.
  const kept = refusedPath(t.dest);
  spawnSync('mkdir', [kept, path.join(kept, 'sub')]);
  const { err, check } = await refusal(applyOne(t, HAPROXY('web1 10.0.0.1:99999')));
  assert.equal(check.refused, undefined);
  assert.match(err.message, /invalid port '99999'.*; keeping the refused file failed too: cannot keep the refused file as \S+reconfig-refused: .*(EISDIR|ENOTEMPTY|EEXIST)/);
  assert.deepEqual(readdirSync(path.dirname(t.dest)).sort(), ['haproxy.cfg', 'haproxy.cfg.reconfig-refused'], 'no staged file is left');
});

test('keepRefused writes mode 0600 even under a permissive umask and replaces a file of another mode', async () => {
  const dest = path.join(tempDir(), 'x.conf');
  writeFileSync(refusedPath(dest), 'older\n', { mode: 0o666 });
  chmodSync(refusedPath(dest), 0o666);
  const old = process.umask(0);
  try {
    assert.equal(await keepRefused(dest, Buffer.from('refused\n')), refusedPath(dest));
  } finally {
    process.umask(old);
  }
  assert.equal(readFileSync(refusedPath(dest), 'utf8'), 'refused\n');
  assert.equal(modeOf(refusedPath(dest)), 0o600);
  assert.deepEqual(readdirSync(path.dirname(dest)), ['x.conf.reconfig-refused']);
});

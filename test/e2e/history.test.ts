/**
 * `history` and `reconfig rollback` against real etcd, a running agent and real commands: versions are kept
 * with their revisions (and pruned to `history`), `reconfig history --diff` shows what changed since one,
 * a rollback by hand goes through check, swap and reload, holds across a SIGHUP (which re-renders every target),
 * and is released by the next change. A missing state directory is a start-up error only for a target that
 * asks for history.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AgentProcess, runCli } from '../support/cli';
import { freePort, sharedEtcd, uniquePrefix } from '../support/etcd';
import { get } from '../support/http';
import { makeCfgdir, readOr, tempDir, waitFor } from '../support/util';

const shared = sharedEtcd();
const TPL = { 'app.ejs': "value=<%= get('/app/v') %>\n" };

function cfgdir(extra: Record<string, unknown> = {}): { dir: string; out: string; reloads: string; state: string } {
  const state = tempDir('reconfig-state-');
  const dir = makeCfgdir({}, TPL);
  const out = path.join(dir, 'out/app.conf');
  const reloads = path.join(dir, 'reloads');
  makeCfgdir(
    {
      app: {
        id: 'app',
        source: 'app.ejs',
        target: 'out/app.conf',
        key: '/app',
        recursive: true,
        mode: '0640',
        history: 3,
        checkcmd: 'grep -q "^value=" {{src}}',
        // Records what the daemon would load at each reload.
        reloadcmd: `cat ${out} >> ${reloads}`,
        ...extra,
      },
    },
    {},
    dir,
  );
  return { dir, out, reloads, state };
}

const revisionOf = async (key: string): Promise<number> => Number((await shared.client.get(key).exec()).kvs[0].mod_revision);

test('history keeps the last versions with their revisions; rollback puts one back, holds it across SIGHUP, and the next change releases it', async () => {
  const p = uniquePrefix('history');
  const { dir, out, reloads, state } = cfgdir();
  await shared.client.put(`${p}/app/v`).value('1');
  const listen = await freePort();
  const agent = AgentProcess.start(['-c', dir, '--endpoints', shared.etcd.url, '-p', p, '--state-dir', state, '--listen', `127.0.0.1:${listen}`]);
  try {
    await waitFor(() => readOr(out) === 'value=1\n', 'the first render');
    const revs: number[] = [];
    for (const v of ['2', '3', '4']) {
      await shared.client.put(`${p}/app/v`).value(v);
      revs.push(await revisionOf(`${p}/app/v`));
      await waitFor(() => readOr(out) === `value=${v}\n`, `value ${v} applied`);
    }
    // Four applies, three kept: 2, 3 and 4, newest first, each with its revision.
    const listed = await waitFor(async () => {
      const r = await runCli(['history', 'app', '-c', dir, '--state-dir', state]);
      return r.code === 0 && /^4\s/m.test(r.stdout) ? r : undefined;
    }, 'version 4 listed');
    const rows = listed.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/));
    assert.deepEqual(rows.map((r) => Number(r[0])), [4, 3, 2], listed.stdout);
    assert.deepEqual(rows.map((r) => Number(r[1])), [...revs].reverse(), listed.stdout);
    assert.match(listed.stdout, /^4 .* live$/m);
    assert.doesNotMatch(listed.stdout, /value=/, 'history never prints a version\'s content unless asked');

    // Deliberate permissions: the directories 0700, each kept file with its target's mode.
    assert.equal(statSync(path.join(state, 'app')).mode & 0o777, 0o700);
    assert.equal(statSync(path.join(state, 'app', '3')).mode & 0o777, 0o700);
    assert.equal(statSync(path.join(state, 'app', '3', '0')).mode & 0o777, 0o640);
    assert.equal(existsSync(path.join(state, 'app', '1')), false, 'pruned beyond history: 3');

    const diff = await runCli(['history', 'app', '--diff', '2', '-c', dir, '--state-dir', state]);
    assert.equal(diff.code, 0, diff.stderr);
    assert.match(diff.stdout, /^-value=2$/m);
    assert.match(diff.stdout, /^\+value=4$/m);

    // By hand, back to the version before the live one: through the check and the reload.
    const reloadsBefore = readOr(reloads);
    const back = await runCli(['rollback', 'app', '-c', dir, '--state-dir', state]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stderr, /rolled back to version 3 .*held there until the data changes/);
    assert.equal(readOr(out), 'value=3\n');
    assert.equal(readOr(reloads).slice(reloadsBefore.length), 'value=3\n', 'one reload, of version 3');
    assert.equal(statSync(out).mode & 0o777, 0o640);
    const afterRollback = await runCli(['history', 'app', '-c', dir, '--state-dir', state]);
    assert.match(afterRollback.stdout, /^5 .*live, held, rollback to 3$/m, afterRollback.stdout);

    // A SIGHUP re-renders every target: the held one stays at version 3, and says so.
    agent.child.kill('SIGHUP');
    await agent.waitForLog((l) => /^held at version 3 by reconfig rollback/.test(l.msg), 'held after SIGHUP');
    assert.equal(readOr(out), 'value=3\n');
    const health = await get(`http://127.0.0.1:${listen}/healthz`);
    assert.equal(health.status, 200, health.body);
    assert.match((JSON.parse(health.body) as { targets: Record<string, { note?: string }> }).targets.app.note ?? '', /^held at version 3 by reconfig rollback/);

    // New data releases it.
    await shared.client.put(`${p}/app/v`).value('5');
    await waitFor(() => readOr(out) === 'value=5\n', 'the next change applies');
    await agent.waitForLog((l) => l.msg === 'the data changed: the rollback by hand to version 3 is released', 'released');
    const released = await waitFor(async () => {
      const r = await runCli(['history', 'app', '-c', dir, '--state-dir', state]);
      return /^6 .*live$/m.test(r.stdout) ? r : undefined;
    }, 'version 6 kept');
    assert.doesNotMatch(released.stdout, /held/);
  } finally {
    await agent.stop();
  }
});

test('rollback: a check that fails leaves the files and holds nothing; bad versions and targets are usage errors', async () => {
  const p = uniquePrefix('history-bad');
  const { dir, out, state } = cfgdir();
  await shared.client.put(`${p}/app/v`).value('1');
  for (const v of ['1', '2']) {
    await shared.client.put(`${p}/app/v`).value(v);
    const once = await runCli(['-c', dir, '--endpoints', shared.etcd.url, '-p', p, '--state-dir', state, '--onetime']);
    assert.equal(once.code, 0, once.stderr);
  }
  assert.equal(readOr(out), 'value=2\n');

  const noTarget = await runCli(['rollback', 'nope', '-c', dir, '--state-dir', state]);
  assert.equal(noTarget.code, 2);
  assert.match(noTarget.stderr, /no target with id "nope"/);
  const noVersion = await runCli(['rollback', 'app', '--to', '9', '-c', dir, '--state-dir', state]);
  assert.equal(noVersion.code, 2);
  assert.match(noVersion.stderr, /no version 9 in .*\(kept: 2, 1\)/);
  const live = await runCli(['rollback', 'app', '--to', '2', '-c', dir, '--state-dir', state]);
  assert.equal(live.code, 2);
  assert.match(live.stderr, /holds what is live already/);
  const badFlag = await runCli(['rollback', 'app', '--to', 'x', '-c', dir, '--state-dir', state]);
  assert.equal(badFlag.code, 2);

  // Version 1 is put back under a check that refuses it: nothing changes, nothing is held.
  const def = path.join(dir, 'conf.d/app.json');
  writeFileSync(def, JSON.stringify({ ...JSON.parse(readFileSync(def, 'utf8')), checkcmd: 'grep -q "^value=2" {{src}}' }));
  const back = await runCli(['rollback', 'app', '--to', '1', '-c', dir, '--state-dir', state]);
  assert.equal(back.code, 1, back.stderr);
  assert.match(back.stderr, /the rollback to version 1 failed at check; nothing is held/);
  assert.match(back.stderr, /grep -q/);
  assert.equal(readOr(out), 'value=2\n');
  assert.equal(existsSync(path.join(state, 'app', 'hold.json')), false);
});

test('a missing state directory is a start-up error only for a target that asks for history', async () => {
  const p = uniquePrefix('history-dir');
  await shared.client.put(`${p}/app/v`).value('1');
  const { dir, out } = cfgdir();
  const missing = path.join(tempDir(), 'absent');
  const res = await runCli(['-c', dir, '--endpoints', shared.etcd.url, '-p', p, '--state-dir', missing, '--onetime']);
  assert.equal(res.code, 2, res.stderr);
  assert.match(res.stderr, new RegExp(`history: the state directory ${missing} \\(--state-dir\\) does not exist`));
  assert.equal(readOr(out), '', 'nothing applied');

  // Without history the state directory is never looked at, nor created.
  const plain = cfgdir({ history: undefined });
  const ok = await runCli(['-c', plain.dir, '--endpoints', shared.etcd.url, '-p', p, '--state-dir', missing, '--onetime']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(readFileSync(plain.out, 'utf8'), 'value=1\n');
  assert.equal(existsSync(missing), false);
});

test('with a history, a render the verify refused is not applied again after a SIGHUP or a restart', async () => {
  const p = uniquePrefix('history-refused');
  // The verify passes while the live file says value=1 or value=3: value=2 is valid but wrong.
  const { dir, out, reloads, state } = cfgdir({ verify: { cmd: `grep -qE "^value=(1|3)$" ${path.join(tempDir(), '..', 'x')} 2>/dev/null || grep -qE "^value=(1|3)$" "$RECONFIG_DEST"`, within: '300ms', every: '100ms' } });
  await shared.client.put(`${p}/app/v`).value('1');
  const start = (): AgentProcess => AgentProcess.start(['-c', dir, '--endpoints', shared.etcd.url, '-p', p, '--state-dir', state]);
  let agent = start();
  try {
    await waitFor(() => readOr(out) === 'value=1\n', 'the first render');
    await shared.client.put(`${p}/app/v`).value('2');
    await agent.waitForLog((l) => l.msg === 'verify failed; rolled back to the previous files', 'the rollback');
    assert.equal(readOr(out), 'value=1\n');
    const reloadsAfterRollback = readOr(reloads);

    agent.child.kill('SIGHUP');
    await agent.waitForLog((l) => /^the verify refused this render before; not applied again/.test(l.msg), 'remembered after SIGHUP');
    await agent.stop();
    agent = start();
    await agent.waitForLog((l) => /^the verify refused this render before; not applied again/.test(l.msg), 'remembered after a restart');
    // The remembered refusal is the target's first outcome: the agent is ready (READY=1 for systemd).
    await agent.waitForLog((l) => /^first full apply done/.test(l.msg), 'ready after a restart with a remembered refusal');
    assert.equal(readOr(reloads), reloadsAfterRollback, 'no reload of the refused render after the SIGHUP or the restart');
    assert.equal(readOr(out), 'value=1\n');

    // Data that renders differently applies, and the refusal is forgotten.
    await shared.client.put(`${p}/app/v`).value('3');
    await waitFor(() => readOr(out) === 'value=3\n', 'the next good change');
    await waitFor(() => !existsSync(path.join(state, 'app', 'refused.json')), 'the refusal forgotten');
  } finally {
    await agent.stop();
  }
});

/**
 * Container use: sidecar mode with a real child process that records the signals it gets, configuration from
 * the environment alone (no cfgdir on disk), and reloadsignal through a pidfile.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AgentProcess, runCli } from '../support/cli';
import { sharedEtcd, uniquePrefix } from '../support/etcd';
import { LIST, lines, makeCfgdir, readOr, tempDir, waitFor } from '../support/util';

const shared = sharedEtcd();

/**
 * A program that records, one line each: its start (with the rendered file's content at that moment), every
 * SIGHUP and SIGUSR1, and a SIGTERM (after which it exits 42). It writes its pid to $2 when given.
 */
function recorder(dir: string): string {
  const file = path.join(dir, 'recorder.sh');
  writeFileSync(
    file,
    `#!/bin/sh
log="$1"
[ -n "$2" ] && echo $$ > "$2"
echo "start $(cat "$RENDERED" 2>/dev/null | tr '\\n' ' ')" >> "$log"
trap 'echo HUP >> "$log"' HUP
trap 'echo USR1 >> "$log"' USR1
trap 'echo TERM >> "$log"; exit 42' TERM
while :; do sleep 0.05 & wait $!; done
`,
    { mode: 0o755 },
  );
  return file;
}

function twoTargets(extra: Record<string, unknown> = {}): string {
  return makeCfgdir(
    {
      a: { id: 'a', source: 'list.ejs', target: 'out/a', key: '/a', recursive: true, ...extra },
      b: { id: 'b', source: 'list.ejs', target: 'out/b', key: '/b', recursive: true },
    },
    { 'list.ejs': LIST },
  );
}

test('sidecar: the program starts after the first render, gets one signal per batch of changes, and passes SIGTERM on', async () => {
  const p = uniquePrefix('sidecar');
  await shared.client.put(`${p}/a/x`).value('1');
  await shared.client.put(`${p}/b/y`).value('1');
  const cfg = twoTargets();
  const log = path.join(cfg, 'signals.log');
  const agent = AgentProcess.start(
    ['-c', cfg, '--port', String(shared.etcd.clientPort), '-p', p, '--', recorder(cfg), log],
    { RENDERED: path.join(cfg, 'out/a') },
  );
  try {
    await waitFor(() => lines(log).length >= 1, 'the program to start');
    assert.equal(lines(log)[0].trim(), 'start /a/x=1', 'the file was rendered before the program started');
    await agent.waitForLog((l) => l.msg === 'connected; watching', 'the watch');

    await shared.client.put(`${p}/a/x`).value('2');
    await waitFor(() => lines(log).includes('HUP'), 'a signal after a change');
    // One transaction that changes both targets: one signal, not two.
    await shared.client.if(`${p}/a/x`, 'Version', '>', 0).then(
      shared.client.put(`${p}/a/x`).value('3'),
      shared.client.put(`${p}/b/y`).value('3'),
    ).commit();
    await waitFor(() => readOr(path.join(cfg, 'out/b')) === '/b/y=3\n', 'both targets applied');
    await waitFor(() => lines(log).length >= 3, 'the transaction\'s signal');
    // A sentinel change after the transaction: once its signal arrives, the transaction must have sent one.
    await shared.client.put(`${p}/a/x`).value('4');
    await waitFor(() => readOr(path.join(cfg, 'out/a')) === '/a/x=4\n' && lines(log).length >= 4, 'the sentinel\'s signal');
    assert.deepEqual(lines(log).slice(1), ['HUP', 'HUP', 'HUP'], 'one signal per change batch');

    agent.child.kill('SIGTERM');
    const exit = await agent.exited;
    assert.equal(exit.code, 42, 'reconfig exits with the program\'s code');
    assert.equal(lines(log).at(-1), 'TERM');
  } finally {
    await agent.stop();
  }
});

test('sidecar: changes inside one wait window give one signal; --reload-signal picks the signal', async () => {
  const p = uniquePrefix('sidewait');
  await shared.client.put(`${p}/a/x`).value('0');
  const cfg = twoTargets({ wait: { min: '300ms', max: '2s' } });
  const log = path.join(cfg, 'signals.log');
  const agent = AgentProcess.start(['-c', cfg, '--port', String(shared.etcd.clientPort), '-p', p, '--reload-signal', 'USR1', '--', recorder(cfg), log]);
  try {
    await waitFor(() => lines(log).length >= 1, 'the program to start');
    await agent.waitForLog((l) => l.msg === 'connected; watching', 'the watch');
    for (let i = 1; i <= 5; i++) await shared.client.put(`${p}/a/x`).value(String(i));
    await waitFor(() => readOr(path.join(cfg, 'out/a')) === '/a/x=5\n', 'the last value');
    await waitFor(() => lines(log).length >= 2, 'the signal for the five changes');
    // A sentinel after the window: once its signal arrives, the five changes must have sent exactly one.
    await shared.client.put(`${p}/a/x`).value('6');
    await waitFor(() => lines(log).length >= 3, 'the sentinel\'s signal');
    assert.deepEqual(lines(log).slice(1), ['USR1', 'USR1']);
  } finally {
    await agent.stop();
  }
});

test('sidecar: a program that dies on its own takes reconfig with it, with its exit code; its output passes through', async () => {
  const p = uniquePrefix('sidedie');
  const cfg = twoTargets();
  const script = 'echo out-of-program; echo err-of-program >&2; sleep 0.3; exit 7';
  const res = await runCli(['-c', cfg, '--port', String(shared.etcd.clientPort), '-p', p, '--', 'sh', '-c', script], { timeoutMs: 30_000 });
  assert.equal(res.code, 7, res.stderr);
  assert.match(res.stderr, /sh exited with code 7/);
  assert.equal(res.stdout, 'out-of-program\n', 'the program\'s stdout, untouched and alone');
  assert.ok(res.stderr.split('\n').includes('err-of-program'), 'the program\'s stderr line, untouched');
});

test('sidecar: when the first render fails the program is not started and reconfig exits non-zero', async () => {
  const p = uniquePrefix('sidefail');
  const cfg = twoTargets({ minkeys: 1 });
  const marker = path.join(cfg, 'started');
  const res = await runCli(['-c', cfg, '--port', String(shared.etcd.clientPort), '-p', p, '--', 'touch', marker], { timeoutMs: 30_000 });
  assert.equal(res.code, 1, res.stderr);
  assert.match(res.stderr, /first render failed for a; touch was not started/);
  assert.match(res.stderr, /fewer than minkeys 1/);
  assert.equal(existsSync(marker), false);
});

test('environment only: no cfgdir on disk, targets and templates from variables, every flag from RECONFIG_*', async () => {
  const p = uniquePrefix('envonly');
  await shared.client.put(`${p}/svc/web1`).value('10.0.0.1');
  const out = path.join(tempDir(), 'web.conf');
  const env = {
    RECONFIG_CFGDIR: '/nonexistent-reconfig-cfgdir',
    RECONFIG_PORT: String(shared.etcd.clientPort),
    RECONFIG_PREFIX: p,
    RECONFIG_ONETIME: 'true',
    RECONFIG_TARGET_web: JSON.stringify({ id: 'web', source: 'web.ejs', target: out, key: '/svc', recursive: true }),
    RECONFIG_TEMPLATE_web: 'web.ejs\n<% for (const c of children("/svc")) { %>server <%= c.name %> <%= c.value %>\n<% } %>',
  };
  const res = await runCli([], { env });
  assert.equal(res.code, 0, res.stderr);
  assert.equal(readFileSync(out, 'utf8'), 'server web1 10.0.0.1\n');
  // A flag on the command line wins over its variable.
  const flagWins = await runCli(['--port', '1'], { env: { ...env, RECONFIG_NOTREALLY: 'yes' } });
  assert.equal(flagWins.code, 3, flagWins.stderr);
  assert.match(flagWins.stderr, /127\.0\.0\.1:1\b/);
});

test('environment targets are validated like files, and errors name the variable', async () => {
  const dir = makeCfgdir({ web: { id: 'web', source: 'list.ejs', target: 'out/web', key: '/web' } }, { 'list.ejs': LIST });
  // A boolean flag's variable must say yes or no (and a flag given on the command line ignores it).
  const res = await runCli(['-c', dir], {
    env: {
      RECONFIG_TARGET_bad: '{"id": "bad"',
      RECONFIG_TARGET_clash: JSON.stringify({ id: 'clash', source: 'list.ejs', target: 'out/other', key: '/web' }),
      RECONFIG_TARGET_nosuch: JSON.stringify({ id: 'nosuch', source: 'missing.ejs', target: 'out/n', key: '/n', colour: 'red' }),
      RECONFIG_TEMPLATE_broken: 'broken.ejs',
      RECONFIG_ONETIME: 'maybe',
    },
  });
  assert.equal(res.code, 2);
  assert.match(res.stderr, /RECONFIG_ONETIME="maybe": must be 1\/true\/yes\/on or 0\/false\/no\/off/);
  const again = await runCli(['-c', dir, '--onetime'], {
    env: {
      RECONFIG_TARGET_bad: '{"id": "bad"',
      RECONFIG_TARGET_clash: JSON.stringify({ id: 'clash', source: 'list.ejs', target: 'out/other', key: '/web' }),
      RECONFIG_TARGET_nosuch: JSON.stringify({ id: 'nosuch', source: 'missing.ejs', target: 'out/n', key: '/n', colour: 'red' }),
      RECONFIG_TEMPLATE_broken: 'broken.ejs',
    },
  });
  assert.equal(again.code, 2);
  const msgs = again.stderr.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { msg: string }).msg).join('\n');
  assert.match(msgs, /\$RECONFIG_TARGET_bad: invalid JSON/);
  assert.match(msgs, new RegExp(`\\$RECONFIG_TARGET_clash: /key: "/web" is already used by ${path.join(dir, 'conf.d/web.json').replace(/[/.]/g, '\\$&')}`));
  assert.match(msgs, /\$RECONFIG_TARGET_nosuch: \/colour: unknown field/);
  assert.match(msgs, /\$RECONFIG_TEMPLATE_broken: the first line must be the template's file name/);
});

test('reloadsignal: the pidfile\'s process gets the signal; a missing or stale pidfile is a clear reload error', async () => {
  const p = uniquePrefix('reloadsig');
  await shared.client.put(`${p}/a/x`).value('1');
  const dir = tempDir();
  const log = path.join(dir, 'signals.log');
  const pidfile = path.join(dir, 'daemon.pid');
  const daemon = AgentProcess.startRaw('sh', [recorder(dir), log, pidfile]);
  try {
    await waitFor(() => existsSync(pidfile) && lines(log).length >= 1, 'the daemon to start');
    const cfg = twoTargets({ reloadsignal: { pidfile, signal: 'SIGUSR1' } });
    const res = await runCli(['-c', cfg, '--port', String(shared.etcd.clientPort), '-p', p, '--onetime']);
    assert.equal(res.code, 0, res.stderr);
    await waitFor(() => lines(log).includes('USR1'), 'the signal');

    writeFileSync(pidfile, '999999999\n');
    await shared.client.put(`${p}/a/x`).value('2');
    const stale = await runCli(['-c', cfg, '--port', String(shared.etcd.clientPort), '-p', p, '--onetime']);
    assert.equal(stale.code, 1);
    assert.match(stale.stdout, /a .* FAILED at reload: .*pidfile \S+daemon\.pid is stale: no process 999999999/);

    const missing = twoTargets({ reloadsignal: { pidfile: path.join(dir, 'none.pid') } });
    const none = await runCli(['-c', missing, '--port', String(shared.etcd.clientPort), '-p', p, '--onetime']);
    assert.equal(none.code, 1);
    assert.match(none.stdout, /FAILED at reload: target a: reloadsignal: cannot read pidfile \S+none\.pid: no such file/);

    const both = twoTargets({ reloadsignal: { pidfile }, reloadcmd: 'true' });
    const conflict = await runCli(['-c', both, '--onetime']);
    assert.equal(conflict.code, 2);
    assert.match(conflict.stderr, /a\.json: \/reloadsignal: give either reloadcmd or reloadsignal, not both/);
  } finally {
    daemon.child.kill('SIGKILL');
  }
});

test('sidecar: a target with a verify signals the program first, then verifies what it loaded; a bad change is rolled back and signalled again', async () => {
  const p = uniquePrefix('sidecar-verify');
  await shared.client.put(`${p}/a/x`).value('ok1');
  const dir = tempDir();
  const served = path.join(dir, 'served');
  const rendered = path.join(dir, 'out', 'a');
  // The program "loads" its config at start and at each SIGHUP: it copies the rendered file to `served`.
  const program = path.join(dir, 'server.sh');
  writeFileSync(program, `#!/bin/sh\ncp "$RENDERED" "$SERVED"\ntrap 'cp "$RENDERED" "$SERVED"; echo HUP >> "$SERVED.log"' HUP\nwhile :; do sleep 0.05 & wait $!; done\n`, { mode: 0o755 });
  const cfg = makeCfgdir(
    {
      a: {
        id: 'a',
        source: 'list.ejs',
        target: rendered,
        key: '/a',
        recursive: true,
        // Passes only once the program serves the live file, and only for good data.
        verify: { cmd: `cmp -s "${served}" "$RECONFIG_DEST" && ! grep -q bad "${served}"`, within: '2s', every: '100ms' },
      },
    },
    { 'list.ejs': LIST },
  );
  const agent = AgentProcess.start(['-c', cfg, '--port', String(shared.etcd.clientPort), '-p', p, '--', program], { RENDERED: rendered, SERVED: served });
  try {
    await waitFor(() => readOr(served) === '/a/x=ok1\n', 'the program to start on the first render');
    await agent.waitForLog((l) => l.msg === 'connected; watching', 'the watch');
    await shared.client.put(`${p}/a/x`).value('ok2');
    await agent.waitForLog((l) => l.msg === 'applied' && l.verified === true, 'the good change applied and verified');
    assert.equal(readOr(served), '/a/x=ok2\n');

    await shared.client.put(`${p}/a/x`).value('bad');
    await agent.waitForLog((l) => l.msg === 'verify failed; rolled back to the previous files', 'the bad change rolled back');
    assert.equal(readOr(rendered), '/a/x=ok2\n');
    await waitFor(() => readOr(served) === '/a/x=ok2\n', 'the program signalled again, on the old file');
    // Signals: the good change, the bad one, the rollback: one each, none batched twice.
    await waitFor(() => lines(`${served}.log`).length === 3, 'three signals');
    assert.equal(agent.count((l) => l.msg === 'sent SIGHUP to ' + program), 3);
  } finally {
    await agent.stop();
  }
});

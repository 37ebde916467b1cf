/** Logs for people and for machines: JSON when not on a terminal, pino-pretty lines on request, command output once. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../support/cli';
import { sharedEtcd, uniquePrefix } from '../support/etcd';
import { LIST, makeCfgdir } from '../support/util';

const shared = sharedEtcd();

function cfg(checkcmd?: string): string {
  return makeCfgdir({ a: { id: 'a', source: 'list.ejs', target: 'out/a', key: '/a', recursive: true, ...(checkcmd ? { checkcmd } : {}) } }, { 'list.ejs': LIST });
}

test('JSON lines by default when stderr is not a terminal; readable lines with --log-format pretty', async () => {
  const p = uniquePrefix('logs');
  const json = await runCli(['-c', cfg(), '--port', String(shared.etcd.clientPort), '-p', p, '--onetime']);
  assert.equal(json.code, 0, json.stderr);
  for (const line of json.stderr.trim().split('\n')) assert.doesNotThrow(() => JSON.parse(line), line);
  const pretty = await runCli(['-c', cfg(), '--port', String(shared.etcd.clientPort), '-p', p, '--onetime', '--log-format', 'pretty']);
  assert.equal(pretty.code, 0, pretty.stderr);
  assert.match(pretty.stderr, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: configuration loaded$/m);
  assert.match(pretty.stderr, /^ {4}targets: 1$/m);
  assert.ok(!pretty.stderr.trimStart().startsWith('{'), 'not JSON');
  const env = await runCli(['-c', cfg(), '--port', String(shared.etcd.clientPort), '-p', p, '--onetime'], { env: { RECONFIG_LOG_FORMAT: 'pretty' } });
  assert.match(env.stderr, /INFO: configuration loaded/);
  const bad = await runCli(['-c', cfg(), '--log-format', 'xml']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Allowed choices are json, pretty/);
});

test('--log-level: warn and error only with warn, an error still logged at error; --debug wins; a bad level is a usage error', async () => {
  const p = uniquePrefix('loglevel');
  await shared.client.put(`${p}/a/x`).value('1');
  const levels = (stderr: string): Set<string> => new Set(stderr.trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { level: string }).level));
  const info = await runCli(['-c', cfg(), '--port', String(shared.etcd.clientPort), '-p', p, '--onetime']);
  assert.equal(info.code, 0, info.stderr);
  assert.ok(levels(info.stderr).has('info'), info.stderr);
  // A failing check logs an error: still there at --log-level error, with the info lines gone.
  const failing = await runCli(['-c', cfg('echo refused >&2; exit 4'), '--port', String(shared.etcd.clientPort), '-p', p, '--onetime', '--log-level', 'error']);
  assert.equal(failing.code, 1);
  assert.deepEqual([...levels(failing.stderr)], ['error'], failing.stderr);
  assert.match(failing.stdout, /FAILED at check/);
  const env = await runCli(['-c', cfg(), '--port', String(shared.etcd.clientPort), '-p', p, '--onetime'], { env: { RECONFIG_LOG_LEVEL: 'warn' } });
  assert.equal(env.code, 0, env.stderr);
  assert.equal(env.stderr.trim(), '', 'nothing at warn or above');
  const debug = await runCli(['-c', cfg(), '--port', String(shared.etcd.clientPort), '-p', p, '--onetime', '--log-level', 'error', '--debug']);
  assert.ok(levels(debug.stderr).has('info'), `--debug logs below error again: ${debug.stderr}`);
  const bad = await runCli(['-c', cfg(), '--log-level', 'loud']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Allowed choices are debug, info, warn, error/);
});

test('--onetime\'s thread-pool size is its own: the commands it runs do not inherit UV_THREADPOOL_SIZE', async () => {
  const p = uniquePrefix('pool');
  await shared.client.put(`${p}/a/x`).value('1');
  const res = await runCli(['-c', cfg('if [ -n "${UV_THREADPOOL_SIZE+x}" ]; then echo "inherited $UV_THREADPOOL_SIZE" >&2; exit 9; fi'), '--port', String(shared.etcd.clientPort), '-p', p, '--onetime']);
  assert.equal(res.code, 0, res.stderr);
  // One the operator gives is passed on as given.
  const given = await runCli(['-c', cfg('test "$UV_THREADPOOL_SIZE" = 3'), '--port', String(shared.etcd.clientPort), '-p', p, '--onetime'], { env: { UV_THREADPOOL_SIZE: '3' } });
  assert.equal(given.code, 0, given.stderr);
});

test('a failed command\'s output is in the log once, in full', async () => {
  const p = uniquePrefix('logout');
  await shared.client.put(`${p}/a/x`).value('1');
  // The command's text does not contain its output, so every occurrence below is the output itself.
  const check = 'for i in 1 2 3; do echo "line $i of output"; done >&2; exit 3';
  const res = await runCli(['-c', cfg(check), '--port', String(shared.etcd.clientPort), '-p', p, '--onetime']);
  assert.equal(res.code, 1);
  const occurrences = res.stderr.split('line 3 of output').length - 1;
  assert.equal(occurrences, 1, res.stderr);
  const line = res.stderr.split('\n').find((l) => l.includes('line 3 of output'))!;
  const entry = JSON.parse(line) as { output: string; exitCode: number; err: string };
  assert.equal(entry.output, 'line 1 of output\nline 2 of output\nline 3 of output\n');
  assert.equal(entry.exitCode, 3);
  assert.match(entry.err, /exited 3: line 1 of output \(\+2 more line\(s\) in "output"\)/);
  assert.match(res.stdout, /FAILED at check: .*exited 3: line 1 of output/);
});

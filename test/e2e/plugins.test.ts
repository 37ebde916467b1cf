/** Plugins: trusted JS modules whose get() gives the template `plugin`, on a key's changes or on an interval. */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AgentProcess, runCli } from '../support/cli';
import { sharedEtcd, uniquePrefix } from '../support/etcd';
import { makeCfgdir, readOr, tempDir, waitFor } from '../support/util';

const shared = sharedEtcd();
const REPO = path.resolve(__dirname, '..', '..', '..');

/** A plugin that reports the content of a file, counts its calls, and throws or hangs when that file says so. */
function filePlugin(dir: string): { plugin: string; state: string } {
  const state = path.join(dir, 'state.txt');
  const plugin = path.join(dir, 'file-plugin.js');
  writeFileSync(
    plugin,
    `'use strict';
const fs = require('node:fs');
let calls = 0;
exports.get = async ({ target, data }) => {
  calls += 1;
  const state = fs.readFileSync(${JSON.stringify(state)}, 'utf8').trim();
  if (state === 'throw') throw new Error('the backend registry is down');
  if (state === 'hang') return new Promise(() => {});
  return { state, calls, target, keys: Object.keys(data).length };
};
`,
  );
  writeFileSync(state, 'one\n');
  return { plugin, state };
}

test('a plugin target with no key re-renders on its interval; a throwing plugin holds the file and is retried', async () => {
  const dir = tempDir();
  const { plugin, state } = filePlugin(dir);
  const cfg = makeCfgdir(
    { p: { id: 'p', source: 'p.ejs', target: 'out/p', plugin, interval: '200ms' } },
    { 'p.ejs': 'state=<%= plugin.state %> target=<%= plugin.target %> keys=<%= plugin.keys %>\n' },
  );
  const out = path.join(cfg, 'out/p');
  const agent = AgentProcess.start(['-c', cfg, '--port', String(shared.etcd.clientPort)]);
  try {
    await waitFor(() => readOr(out) === 'state=one target=p keys=0\n', 'the first render');
    writeFileSync(state, 'two\n');
    await waitFor(() => readOr(out) === 'state=two target=p keys=0\n', 'a render on the interval');
    writeFileSync(state, 'throw\n');
    await agent.waitForLog((l) => /plugin \S+file-plugin\.js failed: the backend registry is down/.test(String(l.err)), 'the plugin error');
    // The failure is logged once the render was refused: nothing was written.
    assert.equal(readOr(out), 'state=two target=p keys=0\n', 'the file keeps its last good bytes');
    writeFileSync(state, 'three\n');
    await waitFor(() => readOr(out) === 'state=three target=p keys=0\n', 'recovery once the plugin works again');
  } finally {
    await agent.stop();
  }
});

test('a plugin beside a key runs on every render; one that hangs past timeout fails the render and is retried', async () => {
  const p = uniquePrefix('plugkey');
  await shared.client.put(`${p}/app/a`).value('1');
  const dir = tempDir();
  const { plugin, state } = filePlugin(dir);
  const cfg = makeCfgdir(
    { k: { id: 'k', source: 'k.ejs', target: 'out/k', key: '/app', recursive: true, plugin, timeout: '300ms' } },
    { 'k.ejs': '<%= plugin.state %> keys=<%= plugin.keys %> a=<%= get("/app/a") %>\n' },
  );
  const out = path.join(cfg, 'out/k');
  const agent = AgentProcess.start(['-c', cfg, '--port', String(shared.etcd.clientPort), '-p', p]);
  try {
    await waitFor(() => readOr(out) === 'one keys=1 a=1\n', 'the first render');
    writeFileSync(state, 'hang\n');
    await shared.client.put(`${p}/app/a`).value('2');
    await agent.waitForLog((l) => /gave no answer within 300 ms/.test(String(l.err)), 'the plugin time-out');
    assert.equal(readOr(out), 'one keys=1 a=1\n');
    writeFileSync(state, 'fine\n');
    // No change in etcd: the retry alone brings the file up to date.
    await waitFor(() => readOr(out) === 'fine keys=1 a=2\n', 'the retry after the time-out', 20_000);
  } finally {
    await agent.stop();
  }
});

test('SIGHUP loads an edited plugin afresh', async () => {
  const dir = tempDir();
  const plugin = path.join(dir, 'version.js');
  writeFileSync(plugin, "exports.get = () => ({ version: 'one' });\n");
  const cfg = makeCfgdir({ v: { id: 'v', source: 'v.ejs', target: 'out/v', plugin, interval: '1h' } }, { 'v.ejs': 'version=<%= plugin.version %>\n' });
  const out = path.join(cfg, 'out/v');
  const agent = AgentProcess.start(['-c', cfg, '--port', String(shared.etcd.clientPort)]);
  try {
    await waitFor(() => readOr(out) === 'version=one\n', 'the first render');
    writeFileSync(plugin, "exports.get = () => ({ version: 'two' });\n");
    agent.child.kill('SIGHUP');
    await waitFor(() => readOr(out) === 'version=two\n', 'the edited plugin, after SIGHUP');
  } finally {
    await agent.stop();
  }
});

test('plugin problems in conf.d are named with the file and field; validate runs no plugin code', async () => {
  const dir = tempDir();
  const noGet = path.join(dir, 'noget.js');
  const ran = path.join(dir, 'ran');
  // Top-level code with a side effect: validate must not run it; a start-up does.
  writeFileSync(noGet, `require('fs').writeFileSync(${JSON.stringify(ran)}, 'x');\nexports.other = 1;\n`);
  const cfg = makeCfgdir(
    {
      a: { id: 'a', source: 't.ejs', target: 'out/a', plugin: 'missing.js', interval: '1s' },
      b: { id: 'b', source: 't.ejs', target: 'out/b', plugin: noGet, interval: '1s' },
      c: { id: 'c', source: 't.ejs', target: 'out/c', plugin: noGet },
      d: { id: 'd', source: 't.ejs', target: 'out/d' },
    },
    { 't.ejs': 'x\n' },
  );
  const res = await runCli(['validate', '-c', cfg]);
  assert.equal(res.code, 2);
  assert.ok(res.stderr.includes(`a.json: /plugin: plugin not found: ${path.join(cfg, 'missing.js')}`), res.stderr);
  assert.match(res.stderr, /c\.json: \/interval: is required for a plugin target with no key/);
  assert.match(res.stderr, /d\.json: \/key: is required \(or keys\)$/m);
  assert.ok(!existsSync(ran), 'validate ran no plugin code');
  // Starting the agent loads the plugins, and names the one without get().
  const start = await runCli(['-c', cfg, '--port', '1', '--onetime']);
  assert.equal(start.code, 2);
  assert.ok(start.stderr.includes(`b.json: /plugin: plugin ${noGet} does not export a get(context) function`), start.stderr);
  assert.ok(existsSync(ran));
});

test('the example plugin resolves backend names to addresses (render, no etcd)', async () => {
  const cfg = makeCfgdir(
    { web: { id: 'web', source: 'web.ejs', target: 'out/web', key: '/web', recursive: true, plugin: path.join(REPO, 'plugins', 'dns-backends.js') } },
    {
      'web.ejs':
        '<% for (const b of plugin.backends) { %><% for (const ip of b.addresses) { %>server <%= b.name %> <%= ip %>:<%= b.port %>\n<% } %><% } %>' +
        '<% for (const u of plugin.unresolved) { %># unresolved <%= u.host %>\n<% } %>',
    },
  );
  const data = path.join(tempDir(), 'd.json');
  writeFileSync(data, JSON.stringify({ '/web/a': 'localhost:8080', '/web/b': '127.0.0.9:81', '/web/c': 'no-such-host.invalid:80' }));
  const res = await runCli(['render', 'web', '--data', data, '-c', cfg]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /^server a (127\.0\.0\.1|::1):8080$/m);
  assert.match(res.stdout, /^server b 127\.0\.0\.9:81$/m);
  assert.match(res.stdout, /^# unresolved no-such-host\.invalid$/m);
  assert.equal(existsSync(path.join(cfg, 'out/web')), false, 'render writes nothing');
});

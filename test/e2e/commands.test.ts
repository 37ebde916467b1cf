/** `reconfig validate` and `reconfig render`: no etcd involved, the built CLI as users run it. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../support/cli';
import { makeCfgdir, tempDir } from '../support/util';

const TEMPLATE = `backend web
<% for (const b of children('/web')) { %>  server <%= b.name %> <%= b.value %>
<% } %><% if (exists('/web/maint')) { %>  # maintenance: <%= get('/web/maint') %>
<% } %>`;

function cfg(): string {
  return makeCfgdir(
    {
      web: { id: 'web', source: 'web.ejs', target: 'out/web', key: '/web', recursive: true },
      one: { id: 'one', source: 'one.ejs', target: 'out/one', key: '/one' },
    },
    { 'web.ejs': TEMPLATE, 'one.ejs': 'value=<%= get("/one") %>\n' },
  );
}

test('validate: exit 0 and a summary when everything loads and compiles', async () => {
  const res = await runCli(['validate', '-c', cfg()]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /: 2 target\(s\), every template compiles$/m);
});

test('validate: every problem with its file and path, exit 2', async () => {
  const dir = makeCfgdir(
    {
      web: { id: 'web', source: 'web.ejs', target: 'out/web', key: 'web', recursive: 'yes' },
      dup: { id: 'dup', source: 'bad.ejs', target: 'out/dup', key: '/dup' },
    },
    { 'web.ejs': TEMPLATE, 'bad.ejs': 'line one\n<%= foo( %>\n' },
  );
  const res = await runCli(['validate', '-c', dir]);
  assert.equal(res.code, 2);
  const web = path.join(dir, 'conf.d/web.json');
  const dup = path.join(dir, 'conf.d/dup.json');
  assert.ok(res.stderr.includes(`${web}: /key: must begin with /`), res.stderr);
  assert.ok(res.stderr.includes(`${web}: /recursive: must be boolean`), res.stderr);
  assert.ok(res.stderr.includes(`${dup}: /source: ${path.join(dir, 'templates/bad.ejs')}:2`), res.stderr);
  assert.match(res.stderr, /^3 problem\(s\)$/m);
  assert.equal(res.stdout, '');
});

test('render: one target from a JSON or a YAML data file, with the daemon\'s helpers, only its own keys', async () => {
  const dir = cfg();
  const data = tempDir();
  const json = path.join(data, 'd.json');
  writeFileSync(json, JSON.stringify({ '/web/b': '10.0.0.2:80', '/web/a': '10.0.0.1:80', '/webby': 'not mine', '/one': 1 }));
  const res = await runCli(['render', 'web', '--data', json, '-c', dir]);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout, 'backend web\n  server a 10.0.0.1:80\n  server b 10.0.0.2:80\n');
  const yaml = path.join(data, 'd.yaml');
  writeFileSync(yaml, '/web/a: 10.0.0.1:80\n/web/maint: "until 5pm"\n/one: 42\n');
  const y = await runCli(['render', 'web', '--data', yaml, '-c', dir]);
  assert.equal(y.stdout, 'backend web\n  server a 10.0.0.1:80\n  server maint until 5pm\n  # maintenance: until 5pm\n');
  const one = await runCli(['render', 'one', '--data', yaml, '-c', dir]);
  assert.equal(one.stdout, 'value=42\n');
});

test('render: a template error points at the template line; unknown ids and bad data are named', async () => {
  const dir = cfg();
  const data = path.join(tempDir(), 'd.json');
  writeFileSync(data, '{}');
  const missing = await runCli(['render', 'one', '--data', data, '-c', dir]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /one\.ejs:1: .*\/one/);
  const unknown = await runCli(['render', 'nope', '--data', data, '-c', dir]);
  assert.equal(unknown.code, 2);
  // A usage error is a plain line on stderr, whatever stderr is (not a JSON log line).
  assert.match(unknown.stderr, /^reconfig: no target with id "nope" \(there are: one, web\)\n$/);
  writeFileSync(data, '["a"]');
  const bad = await runCli(['render', 'web', '--data', data, '-c', dir]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /must hold an object of keys and values/);
});

test('--help on each command shows an example', async () => {
  for (const cmd of [['--help'], ['validate', '--help'], ['render', '--help']]) {
    const res = await runCli(cmd);
    assert.equal(res.code, 0);
    assert.match(res.stdout, /Examples?:\n {2}reconfig /, cmd.join(' '));
  }
});

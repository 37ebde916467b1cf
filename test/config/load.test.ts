import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadTargets } from '../../src/config/load';
import { targetSchema, type TargetSpec } from '../../src/config/schema';
import { ConfigError } from '../../src/errors';
import { makeCfgdir } from '../support/util';

const TPL = { 'a.ejs': 'x=<%= get("/a", "none") %>\n' };
const base = { id: 'a', source: 'a.ejs', target: 'out/a.conf', key: '/a' };

function problems(dir: string): string[] {
  try {
    loadTargets({ cfgdir: dir, prefix: '' });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.message.split('\n');
  }
  assert.fail('expected the configuration to be rejected');
}

test('a valid target loads with defaults and resolved paths', () => {
  const dir = makeCfgdir({ a: base }, TPL);
  const [t] = loadTargets({ cfgdir: dir, prefix: '/prod' });
  assert.ok(t);
  assert.equal(t.id, 'a');
  assert.deepEqual(t.keys, [{ key: '/prod/a', recursive: false, local: '/a' }]);
  assert.equal(t.key, '/a');
  assert.equal(t.dest, path.join(dir, 'out/a.conf'));
  assert.equal(t.files[0].source, path.join(dir, 'templates/a.ejs'));
  assert.equal(t.timeoutMs, 60_000);
  assert.equal(t.files[0].mode, undefined);
  assert.equal(t.files[0].render({}), 'x=none\n');
});

test('mode, owner and group are parsed; numeric owners need no lookup', () => {
  const dir = makeCfgdir({ a: { ...base, mode: '0640', owner: 0, group: 'root', timeout: '2s' } }, TPL);
  const [t] = loadTargets({ cfgdir: dir, prefix: '' });
  assert.equal(t.files[0].mode, 0o640);
  assert.equal(t.files[0].uid, 0);
  assert.equal(t.files[0].gid, 0);
  assert.equal(t.timeoutMs, 2000);
});

test('minkeys and wait are parsed; wait.max defaults to four times min and may not be shorter', () => {
  const dir = makeCfgdir({ a: { ...base, minkeys: 2, wait: { min: '500ms' } }, b: { ...base, id: 'b', key: '/b', target: 'b', wait: { min: '1s', max: '3s' } } }, TPL);
  const [a, b] = loadTargets({ cfgdir: dir, prefix: '' });
  assert.equal(a.minkeys, 2);
  assert.deepEqual(a.wait, { minMs: 500, maxMs: 2000 });
  assert.deepEqual(b.wait, { minMs: 1000, maxMs: 3000 });
  const bad = makeCfgdir({ a: { ...base, minkeys: 1.5, wait: { min: '2s', max: '1s' } }, c: { ...base, id: 'c', key: '/c', target: 'c', wait: { max: '1s' } } }, TPL);
  const got = problems(bad);
  const f = (n: string): string => path.join(bad, 'conf.d', `${n}.json`);
  assert.ok(got.includes(`${f('a')}: /minkeys: must be a whole number`), got.join('\n'));
  assert.ok(got.includes(`${f('c')}: /wait/min: is required`), got.join('\n'));
  const short = makeCfgdir({ a: { ...base, wait: { min: '2s', max: '1s' } } }, TPL);
  assert.deepEqual(problems(short), [`${path.join(short, 'conf.d/a.json')}: /wait/max: must not be shorter than /wait/min`]);
});

test('a wrong type names the file and the path', () => {
  const dir = makeCfgdir({ web: { ...base, recursive: 'yes' } }, TPL);
  assert.deepEqual(problems(dir), [`${path.join(dir, 'conf.d/web.json')}: /recursive: must be boolean`]);
});

test('an unknown field is an error, so a typo cannot pass silently', () => {
  const dir = makeCfgdir({ web: { ...base, recurisve: true } }, TPL);
  assert.deepEqual(problems(dir), [`${path.join(dir, 'conf.d/web.json')}: /recurisve: unknown field`]);
});

test('every bad file is reported in the same run: broken JSON, missing template, bad values, missing fields', () => {
  const dir = makeCfgdir(
    {
      a: base,
      broken: '{"id": "b",',
      notemplate: { ...base, id: 'c', key: '/c', target: 'c', source: 'nope.ejs' },
      badkey: { ...base, id: 'd', key: 'd', target: 'd', mode: '999' },
      missing: { id: 'e', source: 'a.ejs' },
    },
    TPL,
  );
  const got = problems(dir);
  const f = (n: string): string => path.join(dir, 'conf.d', `${n}.json`);
  assert.ok(got.some((l) => l.startsWith(`${f('broken')}: invalid JSON`)), got.join('\n'));
  assert.ok(got.includes(`${f('notemplate')}: /source: template not found: ${path.join(dir, 'templates/nope.ejs')}`), got.join('\n'));
  assert.ok(got.includes(`${f('badkey')}: /key: must begin with /`), got.join('\n'));
  assert.ok(got.includes(`${f('badkey')}: /mode: must be an octal mode such as "0644"`), got.join('\n'));
  assert.ok(got.includes(`${f('missing')}: /target: is required (or files)`), got.join('\n'));
  assert.ok(got.includes(`${f('missing')}: /key: is required (or keys)`), got.join('\n'));
  assert.ok(!got.some((l) => l.startsWith(`${f('a')}:`)), 'the good file has no problem');
});

test('ids, keys and targets are unique; the error names both files', () => {
  const dir = makeCfgdir(
    {
      a: base,
      b: { ...base, target: 'other' },
      c: { ...base, id: 'c', key: '/c' },
    },
    TPL,
  );
  const got = problems(dir);
  const f = (n: string): string => path.join(dir, 'conf.d', `${n}.json`);
  assert.ok(got.includes(`${f('b')}: /id: "a" is already used by ${f('a')}`), got.join('\n'));
  assert.ok(got.includes(`${f('b')}: /key: "/a" is already used by ${f('a')}`), got.join('\n'));
  assert.ok(got.includes(`${f('c')}: /target: ${JSON.stringify(path.join(dir, 'out/a.conf'))} is already used by ${f('a')}`), got.join('\n'));
});

test('one run reports every problem: a clash is found even beside a broken template and a missing one', () => {
  const dir = makeCfgdir(
    { a: { ...base, source: 'broken.ejs' }, b: { ...base, id: 'b', target: 'out/b' }, c: { ...base, id: 'c', key: '/c', source: 'missing.ejs', target: 'out/c' }, d: { ...base, id: 'd', key: '/c', target: 'out/d' } },
    { ...TPL, 'broken.ejs': 'x=<%= get("/a" %>\n' },
  );
  const got = problems(dir);
  const f = (n: string): string => path.join(dir, 'conf.d', `${n}.json`);
  assert.ok(got.some((l) => l.startsWith(`${f('a')}: /source: `) && l.includes('broken.ejs')), got.join('\n'));
  assert.ok(got.some((l) => l.startsWith(`${f('c')}: /source: template not found`)), got.join('\n'));
  assert.ok(got.includes(`${f('b')}: /key: "/a" is already used by ${f('a')}`), got.join('\n'));
  assert.ok(got.includes(`${f('d')}: /key: "/c" is already used by ${f('c')}`), got.join('\n'));
  assert.equal(got.length, 4, got.join('\n'));
});

test('a template syntax error is a configuration error naming the template and line', () => {
  const dir = makeCfgdir({ a: base }, { 'a.ejs': 'line 1\nline 2\n<% if (true) { %>\nline 4\n<%= reconfigdata[ %>\n' });
  const got = problems(dir);
  assert.equal(got.length, 1);
  assert.match(got[0], new RegExp(`/source: ${path.join(dir, 'templates/a.ejs').replace(/[.]/g, '\\.')}:5: `));
});

test('an unknown user is named', () => {
  const dir = makeCfgdir({ a: { ...base, owner: 'no-such-user-reconfig' } }, TPL);
  assert.deepEqual(problems(dir), [`${path.join(dir, 'conf.d/a.json')}: /owner: no such user: no-such-user-reconfig`]);
});

test('a trailing slash is dropped; "/" means everything under the prefix, and needs one', () => {
  const dir = makeCfgdir({ a: { ...base, key: '/a/', recursive: true }, all: { ...base, id: 'all', key: '/', target: 'all', recursive: true } }, TPL);
  const [a, all] = loadTargets({ cfgdir: dir, prefix: '/prod' });
  assert.equal(a.keys[0].key, '/prod/a');
  assert.equal(all.keys[0].key, '/prod');
  assert.equal(all.key, '/');
  assert.deepEqual(problems(dir), [`${path.join(dir, 'conf.d/all.json')}: /key: "/" would watch the whole keyspace; give a narrower key or a --prefix`]);
});

test('a missing conf.d is named', () => {
  assert.match(problems('/nonexistent-reconfig')[0], /^\/nonexistent-reconfig\/conf\.d: cannot read directory/);
});

test('the TypeScript type and the schema list the same fields', () => {
  // A compile-time check: every key of TargetSpec is a schema property and the reverse.
  const fields: Record<keyof TargetSpec, true> = {
    id: true, source: true, target: true, files: true, verify: true, key: true, keys: true, recursive: true, checkcmd: true, reloadcmd: true, reloadsignal: true, plugin: true, interval: true, docker: true, notify: true,
    mode: true, owner: true, group: true, timeout: true, minkeys: true, wait: true, splay: true, multiline: true, values: true, history: true, rollout: true,
  };
  assert.deepEqual(Object.keys(targetSchema.properties as object).sort(), Object.keys(fields).sort());
});

test('templates are found relative to templates/ or by absolute path', () => {
  const dir = makeCfgdir({}, {});
  const abs = path.join(dir, 'elsewhere.ejs');
  writeFileSync(abs, 'abs\n');
  makeCfgdir({ a: { ...base, source: abs } }, {}, dir);
  const [t] = loadTargets({ cfgdir: dir, prefix: '' });
  assert.equal(t.files[0].source, abs);
  assert.equal(t.files[0].render({}), 'abs\n');
});

test('a splay that is not a duration is named', () => {
  const dir = makeCfgdir({ a: { ...base, splay: 'soon' } }, TPL);
  assert.deepEqual(problems(dir), [`${path.join(dir, 'conf.d/a.json')}: /splay: must be a duration such as "500ms" or "30s"`]);
});

test('the schema holds the rules between fields, each reported once with its own message', () => {
  const dir = makeCfgdir(
    {
      nokey: { id: 'nokey', source: 'a.ejs', target: 'o1' },
      nointerval: { id: 'ni', source: 'a.ejs', target: 'o2', plugin: 'p.js' },
      interval: { ...base, id: 'iv', target: 'o3', interval: '5s' },
      both: { ...base, id: 'both', key: '/both', target: 'o4', reloadcmd: 'true', reloadsignal: { pidfile: '/run/x.pid' } },
      values: { id: 'vals', source: 'a.ejs', target: 'o5', plugin: 'p.js', interval: '5s', values: [{ schema: true }] },
    },
    TPL,
  );
  writeFileSync(path.join(dir, 'p.js'), 'exports.get = () => ({});\n');
  const f = (n: string): string => path.join(dir, 'conf.d', `${n}.json`);
  assert.deepEqual(problems(dir).sort(), [
    `${f('both')}: /reloadsignal: give either reloadcmd or reloadsignal, not both`,
    `${f('interval')}: /interval: only for a plugin target with no key (a target with a key re-renders on change)`,
    `${f('nointerval')}: /interval: is required for a plugin target with no key (how often to run it)`,
    `${f('nokey')}: /key: is required (or keys)`,
    `${f('values')}: /values: only for a target with a key (the rules check its values from etcd)`,
  ]);
});

const keyless = { id: 'k', source: 'a.ejs', target: 'out/k.conf' };

test('keys: beside key or instead of it, each taking the target\'s recursive unless it gives its own', () => {
  const dir = makeCfgdir(
    {
      web: { ...base, id: 'web', key: '/services/web', recursive: true, keys: ['/global/maxconn', { key: '/global/tls', recursive: false }] },
      api: { ...keyless, id: 'api', target: 'out/api', keys: [{ key: '/services/api', recursive: true }, '/global/maxconn/'] },
    },
    TPL,
  );
  const [api, web] = loadTargets({ cfgdir: dir, prefix: '/prod' }).sort((a, b) => a.id.localeCompare(b.id));
  assert.deepEqual(web.keys, [
    { key: '/prod/services/web', recursive: true, local: '/services/web' },
    { key: '/prod/global/maxconn', recursive: true, local: '/global/maxconn' },
    { key: '/prod/global/tls', recursive: false, local: '/global/tls' },
  ]);
  assert.equal(web.key, '/services/web');
  // keys alone: the first is the target's own; /global/maxconn is shared with web, which is allowed.
  assert.equal(api.key, '/services/api');
  assert.deepEqual(api.keys.map((k) => [k.local, k.recursive]), [['/services/api', true], ['/global/maxconn', false]]);
});

test('keys: a target\'s own key stays unique, keys within one another are refused, "/" needs a prefix', () => {
  const dir = makeCfgdir(
    {
      one: { ...base, id: 'one', key: '/shared', keys: ['/x'] },
      two: { ...keyless, id: 'two', target: 'out/two', keys: ['/shared', '/y'] },
      nest: { ...base, id: 'nest', target: 'out/nest', key: '/app', recursive: true, keys: ['/app/db', '/apple'] },
      root: { ...base, id: 'root', target: 'out/root', key: '/r', keys: ['/'] },
      empty: { ...keyless, id: 'empty', target: 'out/empty', keys: [] },
    },
    TPL,
  );
  const f = (n: string): string => path.join(dir, 'conf.d', `${n}.json`);
  assert.deepEqual(problems(dir).sort(), [
    `${f('empty')}: /keys: must NOT have fewer than 1 items`,
    `${f('nest')}: /keys/0: "/app/db" overlaps /key ("/app"): a key would be read twice`,
    `${f('root')}: /keys/0: "/" would watch the whole keyspace; give a narrower key or a --prefix`,
    `${f('two')}: /key: "/shared" is already used by ${f('one')}`,
  ]);
});

test('files: several files per target, each with its own mode; names unique within it; files and source/target exclusive', () => {
  const tpl = { ...TPL, 'b.ejs': 'b\n' };
  const ok = makeCfgdir({ set: { id: 'set', key: '/a', files: [{ source: 'a.ejs', target: 'out/a.cfg' }, { source: 'b.ejs', target: 'out/b.map', mode: '0640', name: 'map' }], verify: { cmd: 'true' } } }, tpl);
  const [t] = loadTargets({ cfgdir: ok, prefix: '' });
  assert.deepEqual(t.files.map((f) => [f.name, path.relative(ok, f.dest), f.mode]), [['a.cfg', 'out/a.cfg', undefined], ['map', 'out/b.map', 0o640]]);
  assert.equal(t.dest, path.join(ok, 'out/a.cfg'));
  assert.deepEqual(t.verify, { cmd: 'true', withinMs: 10_000, everyMs: 1000 });
  const bad = makeCfgdir(
    {
      both: { id: 'both', key: '/b', source: 'a.ejs', target: 'out/x', files: [{ source: 'a.ejs', target: 'out/y' }] },
      twins: { id: 'twins', key: '/t', files: [{ source: 'a.ejs', target: 'one/same.cfg' }, { source: 'b.ejs', target: 'two/same.cfg' }] },
      clash: { id: 'clash', key: '/c', files: [{ source: 'a.ejs', target: 'out/c' }, { source: 'b.ejs', target: 'out/c', name: 'other' }] },
    },
    tpl,
  );
  const f = (n: string): string => path.join(bad, 'conf.d', `${n}.json`);
  assert.deepEqual(problems(bad).sort(), [
    `${f('both')}: /files: give either source and target, or files, not both`,
    `${f('clash')}: /target: ${JSON.stringify(path.join(bad, 'out/c'))} is already used by another file of the same target`,
    `${f('twins')}: /files/1/name: "same.cfg" is already the name of /files/0: give each file its own "name" (checkcmd's {{src.<name>}})`,
  ]);
});

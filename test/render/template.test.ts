import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TemplateError } from '../../src/errors';
import { TargetData } from '../../src/render/data';
import { compileTemplate } from '../../src/render/template';

const data = new TargetData([
  ['/app/b', '2'],
  ['/app/a', '1'],
  ['/app', 'root'],
  ['/app/sub/x', 'deep'],
  ['/app/cfg', '{"port": 80}'],
  ['/app/html', '<a href="x">&</a>'],
]).toObject();

test('TargetData keeps keys sorted as they come and go', () => {
  const d = new TargetData([['/b', '1'], ['/d', '2']]);
  d.set('/c', '3');
  d.set('/a', '4');
  d.set('/e', '5');
  d.set('/c', '33');
  d.delete('/b');
  d.delete('/nope');
  assert.deepEqual(Object.entries(d.toObject()), [['/a', '4'], ['/c', '33'], ['/d', '2'], ['/e', '5']]);
  assert.equal(d.size, 4);
  const big = new TargetData(Array.from({ length: 1000 }, (_, i) => [`/k${(i * 7919) % 1000}`, String(i)] as const));
  for (let i = 0; i < 1000; i += 3) big.delete(`/k${i}`);
  const keys = Object.keys(big.toObject());
  assert.deepEqual(keys, [...keys].sort());
  assert.equal(keys.length, 666);
});

test('reconfigdata: iterated in key order', () => {
  assert.deepEqual(Object.keys(data), ['/app', '/app/a', '/app/b', '/app/cfg', '/app/html', '/app/sub/x']);
  const r = compileTemplate('t.ejs', '<% for (const [k, v] of Object.entries(reconfigdata)) { %><%= k %>=<%= v %>;<% } %>');
  assert.equal(r(data), '/app=root;/app/a=1;/app/b=2;/app/cfg={"port": 80};/app/html=<a href="x">&</a>;/app/sub/x=deep;');
});

test('<%= %> writes values verbatim, with no HTML escaping', () => {
  assert.equal(compileTemplate('t.ejs', '<%= get("/app/html") %>')(data), '<a href="x">&</a>');
});

test('helpers: get with default, exists, children, ls, json', () => {
  const r = compileTemplate(
    't.ejs',
    [
      '<%= get("/app/a") %>|<%= get("/nope", "dflt") %>|<%= exists("/app/b") %>|<%= exists("/nope") %>',
      '<%= children("/app").map((c) => c.name + ":" + c.value).join(",") %>',
      '<%= ls("/app/").join(",") %>',
      '<%= json("/app/cfg").port %>|<%= json("/nope", {"d": 1}).d %>',
    ].join('\n'),
  );
  assert.equal(r(data), '1|dflt|true|false\na:1,b:2,cfg:{"port": 80},html:<a href="x">&</a>\na,b,cfg,html,sub\n80|1');
});

test('get without a default fails on a missing key, naming the key and the line', () => {
  const r = compileTemplate('/tpl/t.ejs', 'one\ntwo <%= get("/missing") %>\n');
  assert.throws(() => r(data), (err: unknown) => {
    assert.ok(err instanceof TemplateError);
    assert.equal(err.line, 2);
    assert.match(err.message, /^\/tpl\/t\.ejs:2: key not found: \/missing/);
    return true;
  });
});

test('an error thrown while rendering names the template and line', () => {
  const r = compileTemplate('/tpl/t.ejs', 'a\nb\nc <%= json("/app/a").x.y %>\n');
  assert.throws(() => r(data), /^TemplateError: \/tpl\/t\.ejs:3: Cannot read properties of undefined/);
});

test('a bad JSON value names its key', () => {
  const r = compileTemplate('t.ejs', '<%= json("/app/b").x %>\n<%= json("/app/html") %>');
  assert.throws(() => r(data), /t\.ejs:2: value of \/app\/html is not JSON/);
});

test('a syntax error names the template and the line', () => {
  assert.throws(
    () => compileTemplate('/tpl/s.ejs', 'ok\nok\n<% for (const x of [1]) { %>\n<%= x %>\n<% } } %>\n'),
    (err: unknown) => err instanceof TemplateError && err.line === 5 && err.message.startsWith('/tpl/s.ejs:5: '),
  );
});

test('an undefined variable is an error rather than an empty string', () => {
  assert.throws(() => compileTemplate('t.ejs', '<%= nosuchthing %>')({}), /t\.ejs:1: nosuchthing is not defined/);
});

/**
 * The Go-template translator: every fixture under fixtures/templates (NAME.tmpl, the data NAME.json, and
 * NAME.out, the output written from Go's text/template and confd's documented semantics) is translated,
 * compiled by reconfig's compileTemplate and rendered; the output must match byte for byte.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { translate } from '../../src/import/confd/emit';
import { TargetData } from '../../src/render/data';
import { compileTemplate } from '../../src/render/template';

// Fixtures are read from the source tree (dist/test/import -> test/import).
const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'import', 'fixtures', 'templates');

function render(src: string, data: Record<string, string>, prefix?: string): string {
  const t = translate(src, { file: 't.tmpl', prefix, force: false });
  assert.deepEqual(t.problems, []);
  return compileTemplate('t.ejs', t.ejs)(new TargetData(Object.entries(data)).toObject());
}

const names = readdirSync(FIXTURES).filter((n) => n.endsWith('.tmpl')).map((n) => n.slice(0, -5)).sort();

test('every fixture has its data and its expected output', () => {
  assert.ok(names.length >= 9, `only ${names.length} fixtures`);
  for (const n of names) {
    readFileSync(path.join(FIXTURES, `${n}.json`));
    readFileSync(path.join(FIXTURES, `${n}.out`));
  }
});

for (const name of names) {
  test(`fixture ${name}: the translation writes what Go and confd write`, () => {
    const prev = process.env.RECONFIG_IMPORT_TEST_ENV;
    process.env.RECONFIG_IMPORT_TEST_ENV = 'envval';
    try {
      const src = readFileSync(path.join(FIXTURES, `${name}.tmpl`), 'utf8');
      const data = JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as Record<string, string>;
      assert.equal(render(src, data), readFileSync(path.join(FIXTURES, `${name}.out`), 'utf8'));
    } finally {
      if (prev === undefined) delete process.env.RECONFIG_IMPORT_TEST_ENV;
      else process.env.RECONFIG_IMPORT_TEST_ENV = prev;
    }
  });
}

test('trim markers: only "{{- " and " -}}" trim, and they take every kind of whitespace', () => {
  assert.equal(render('a \t\r\n {{- "x" -}} \n\t b', {}), 'axb');
  assert.equal(render('a {{-3}} b', {}), 'a -3 b');
  assert.equal(render('a\n{{- /* c */}}\nb', {}), 'a\nb');
  assert.equal(render('{{"a"}}\n\n{{- "b"}}', {}), 'ab');
});

test('each line of the Go template stays on its line, so a render error names it', () => {
  const src = 'one\n{{- /* a\ncomment */ -}}\n\n{{if true}}\n{{ getv\n "/x" }}\n{{end}}';
  const t = translate(src, { file: 't.tmpl', force: false });
  assert.equal(t.ejs.split('\n').length, src.split('\n').length);
  const r = compileTemplate('/tpl/t.ejs', t.ejs);
  assert.throws(() => r({}), /^TemplateError: \/tpl\/t\.ejs:6: error calling getv: key does not exist: \/x$/);
});

test('getv on a missing key fails the render naming the key; a default is used instead', () => {
  assert.throws(() => render('{{getv "/db/host"}}', {}), /error calling getv: key does not exist: \/db\/host/);
  assert.equal(render('{{getv "/db/host" "localhost"}}', {}), 'localhost');
  assert.throws(() => render('{{(get "/nope").Value}}', {}), /error calling get: key does not exist: \/nope/);
});

test('a per-resource prefix: the template reads keys without it, as in confd', () => {
  const data = { '/myapp/db/host': 'db1', '/myapp/db/port': '5432' };
  assert.equal(render('{{getv "/db/host"}}:{{getv "/db/port"}} {{ls "/db"}} {{range gets "/db/*"}}{{.Key}} {{end}}', data, '/myapp'), 'db1:5432 [host port] /db/host /db/port ');
});

test("Go's errors at run time: comparisons of different kinds, bad arguments", () => {
  assert.throws(() => render('{{eq 1 "1"}}', {}), /incompatible types for comparison/);
  assert.throws(() => render('{{with json `{"p": 1}`}}{{eq .p 1}}{{end}}', {}), /incompatible types for comparison/);
  assert.equal(render('{{with json `{"p": 1}`}}{{eq .p 1.0}}{{end}}', {}), 'true');
  assert.throws(() => render('{{lt true false}}', {}), /invalid type for comparison/);
  assert.throws(() => render('{{add "1" 2}}', {}), /add: wrong type for value; expected int; got string/);
  assert.throws(() => render('{{atoi "x"}}', {}), /strconv.Atoi: parsing "x": invalid syntax/);
  assert.throws(() => render('{{index (split "a" ",") 3}}', {}), /index out of range: 3/);
  assert.throws(() => render('{{json "[1]"}}', {}), /cannot unmarshal array/);
  assert.throws(() => render('{{div 1 0}}', {}), /integer divide by zero/);
  assert.throws(() => render('{{base64Decode "!!"}}', {}), /illegal base64 data/);
  assert.throws(() => render('{{template "nope"}}', {}), /no such template "nope"/);
  assert.throws(() => render('{{map "a"}}', {}), /invalid map call/);
});

test('else with (Go 1.23): the first with whose value is true, else the else', () => {
  const src = '{{with getv "/a" ""}}a{{else with getv "/b"}}b={{.}}{{else}}none{{end}}';
  assert.equal(render(src, { '/b': 'B' }), 'b=B');
  assert.equal(render(src, { '/a': 'A', '/b': 'B' }), 'a');
  assert.equal(render(src, { '/b': '' }), 'none');
});

test('and/or stop at the operand that decides, as Go 1.18 does', () => {
  assert.equal(render('{{and 0 (getv "/missing")}}|{{or 1 (getv "/missing")}}', {}), '0|1');
});

test('datetime is the time now, with Go layouts', () => {
  const prev = process.env.TZ;
  const before = new Date();
  const year = render('{{datetime.Year}} {{(datetime.UTC).Format "2006-01-02T15:04:05Z07:00"}} {{datetime.UTC.Format "Mon Jan _2 3:04PM"}}', {});
  const [y, iso, ...rest] = year.split(' ');
  assert.equal(Number(y), before.getFullYear());
  assert.match(iso, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(Math.abs(Date.parse(iso) - before.getTime()) < 24 * 3600_000);
  assert.match(rest.join(' '), /^(Sun|Mon|Tue|Wed|Thu|Fri|Sat) [A-Z][a-z]{2} [ \d]\d \d{1,2}:\d\d(AM|PM)$/);
  assert.equal(process.env.TZ, prev);
});

test('what cannot be translated is a problem with its line, and --force marks it for validate to refuse', () => {
  const src = 'ok\n{{lookupIP 99999999999999999999}}\n{{ frobnicate 1 }}\n{{if ($d := 1)}}x{{end}}\n{{$nope}}\n';
  const t = translate(src, { file: '/etc/confd/templates/x.tmpl', force: false });
  assert.deepEqual(
    t.problems.map((p) => `${p.line}: ${p.message.split(':')[0]}`),
    ['2: number 99999999999999999999 is beyond what reconfig computes exactly (2^53)', '3: function "frobnicate" not defined', '4: a declaration inside parentheses is not translated', '5: undefined variable "$nope" (Go\'s parser refuses it too)'],
  );
  const forced = translate(src, { file: '/etc/confd/templates/x.tmpl', force: true });
  assert.equal(forced.problems.length, 4);
  assert.equal(forced.ejs.split('\n').length, src.split('\n').length);
  assert.throws(
    () => compileTemplate('/etc/reconfig/templates/x.ejs', forced.ejs),
    /^TemplateError: \/etc\/reconfig\/templates\/x\.ejs:2: left untranslated by reconfig import confd \(\/etc\/confd\/templates\/x\.tmpl:2: number 99999999999999999999 is beyond/,
  );
  // Once the markers are gone (fixed by hand), the rest compiles.
  const fixed = forced.ejs.replace(/<%# reconfig-import: UNTRANSLATED[^%]*%>/g, '');
  assert.equal(compileTemplate('x.ejs', fixed)({}), 'ok\n\n\n\n\n');
});

test('a syntax error is a problem naming its line', () => {
  assert.deepEqual(translate('a\n{{if true}}\nb', { file: 't', force: false }).problems, [{ line: 3, message: 'template: unexpected EOF' }]);
  assert.deepEqual(translate('a\n\n{{ "x" }', { file: 't', force: false }).problems, [{ line: 3, message: 'template: unrecognized character in action: "}"' }]);
  assert.deepEqual(translate('a\n{{ "x"\n', { file: 't', force: false }).problems, [{ line: 3, message: 'template: unclosed action' }]);
  assert.deepEqual(translate('{{break}}', { file: 't', force: false }).problems, [{ line: 1, message: 'template: {{break}} outside {{range}}' }]);
  assert.deepEqual(translate('x\n{{end}}', { file: 't', force: false }).problems, [{ line: 2, message: 'template: unexpected {{end}}' }]);
});

test("getv and get of a key outside the target's keys say so and name them; inside them, confd's words; a default still applies", () => {
  const scope = [{ local: '/services/web', recursive: true }, { local: '/pools', recursive: false }];
  const compiled = (src: string, prefix?: string) => compileTemplate('t.ejs', translate(src, { file: 't.tmpl', prefix, force: false }).ejs);
  const outside = /error calling getv: \/global\/maxconn lies outside this target's keys \(\/services\/web, \/pools\): add it to the target's "keys" to read it/;
  assert.throws(() => compiled('{{getv "/global/maxconn"}}')({}, {}, scope), outside);
  assert.throws(() => compiled('{{(get "/pools/a").Value}}')({}, {}, scope), /error calling get: \/pools\/a lies outside this target's keys/);
  assert.throws(() => compiled('{{getv "/services/web/port"}}')({}, {}, scope), /error calling getv: key does not exist: \/services\/web\/port$/);
  // confd returns the default for any key its store lacks; a translated template keeps doing so.
  assert.equal(compiled('{{getv "/global/maxconn" "100"}}')({}, {}, scope), '100');
  // With a resource prefix the template's key is relative to it; the message names the key the target would read.
  const prefixed = [{ local: '/prod/upstreams', recursive: true }];
  assert.throws(() => compiled('{{getv "/db"}}', '/prod')({}, {}, prefixed), /error calling getv: \/prod\/db lies outside this target's keys \(\/prod\/upstreams\)/);
  assert.equal(compiled('{{getv "/upstreams/a"}}', '/prod')({ '/prod/upstreams/a': 'x' }, {}, prefixed), 'x');
});

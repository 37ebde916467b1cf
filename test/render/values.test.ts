import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RuleCompiler, globToRegExp } from '../../src/config/rules';
import type { ConfigProblem } from '../../src/errors';
import { HoldError, TargetError, ValueError } from '../../src/errors';
import { TargetData } from '../../src/render/data';
import { assertValues, findControl, valueCheck } from '../../src/render/values';

test('control characters: every C0 and C1 control but tab is found, with its position', () => {
  assert.equal(findControl('10.0.0.1:80\tweight 1'), undefined, 'tab is allowed');
  assert.equal(findControl('héllo wörld ✓'), undefined, 'printable Unicode is allowed');
  for (let c = 0; c < 0xa0; c++) {
    const ch = String.fromCharCode(c);
    const control = (c < 0x20 && c !== 9) || (c >= 0x7f && c <= 0x9f);
    assert.equal(findControl(`ab${ch}`) !== undefined, control, `U+${c.toString(16)}`);
  }
  assert.equal(findControl('127.0.0.1:80\n  http-request redirect'), 'U+000A (line feed) at position 13 of 36');
  assert.match(findControl('x\u001b[31m')!, /^U\+001B \(escape\) at position 2/);
});

test('globs: * is one segment, ** any depth, relative globs hang off the key', () => {
  const m = (g: string, k: string): boolean => globToRegExp(g).test(k);
  assert.ok(m('/a/*', '/a/b'));
  assert.ok(!m('/a/*', '/a/b/c'));
  assert.ok(!m('/a/*', '/a'));
  assert.ok(m('/a/**', '/a/b/c/d'));
  assert.ok(!m('/a/**', '/a'), 'a trailing ** is everything below, not the key itself');
  assert.ok(m('/a/**/port', '/a/port') && m('/a/**/port', '/a/x/y/port'));
  assert.ok(m('/a/web?', '/a/web1') && !m('/a/web?', '/a/web12'));
  assert.ok(m('/a.b/*', '/a.b/c') && !m('/a.b/*', '/axb/c'), 'dots are literal');
  for (const bad of ['/a//b', '/a/', '/a**', '/a/b**c']) assert.throws(() => globToRegExp(bad), Error, bad);
  const problems: ConfigProblem[] = [];
  const [rule] = new RuleCompiler().compile([{ keys: 'backends/*', schema: true, json: false }], '/svc', 'f.json', problems);
  assert.deepEqual(problems, []);
  assert.ok(rule.matches('/svc/backends/b1') && !rule.matches('/other/backends/b1'));
});

test('bad rules are config problems naming the rule path; good ones still compile', () => {
  const problems: ConfigProblem[] = [];
  const rules = new RuleCompiler().compile(
    [
      { schema: { patern: '^x$' }, json: false },
      { keys: '/a/b**', schema: true, json: false },
      { schema: { type: 'strin' }, json: false },
      { keys: 'x/*', schema: { type: 'string', format: 'ipv4' }, json: false },
    ],
    '/k',
    'conf.d/a.json',
    problems,
  );
  assert.equal(rules.length, 1);
  assert.deepEqual(
    problems.map((p) => `${p.file}: ${p.message.split(':')[0]}`),
    ['conf.d/a.json: /values/0/schema', 'conf.d/a.json: /values/1/keys', 'conf.d/a.json: /values/2/schema'],
  );
  assert.match(problems[0].message, /unknown keyword: "patern"/);
  assert.match(problems[1].message, /"\/a\/b\*\*" has \*\* inside a path segment/);
});

function check(multiline: boolean, specs: Parameters<RuleCompiler['compile']>[0]): ReturnType<typeof valueCheck> {
  const problems: ConfigProblem[] = [];
  const rules = new RuleCompiler().compile(specs, '/svc', 'f', problems);
  assert.deepEqual(problems, []);
  return valueCheck(multiline, rules);
}

test('rules: formats, enums, lengths and JSON values; a message names the key and rule, never the value', () => {
  const c = check(false, [
    { keys: 'backends/*', schema: { type: 'string', pattern: '^[0-9.]+:[0-9]{1,5}$', maxLength: 21 }, json: false },
    { keys: 'mode', schema: { enum: ['http', 'tcp'] }, json: false },
    { keys: 'members/*', schema: { type: 'object', required: ['host', 'port'], properties: { host: { format: 'hostname' }, port: { type: 'integer', maximum: 65535 } } }, json: true },
    { keys: 'addr', schema: { type: 'string', format: 'ipv6' }, json: false },
  ]);
  assert.equal(c('/svc/backends/b1', '10.0.0.1:80'), undefined);
  assert.match(c('/svc/backends/b1', 'web.example:80')!.message, /^the value breaks values\[0\] \(keys "backends\/\*"\): value must match pattern/);
  assert.match(c('/svc/backends/b1', '1'.repeat(40) + ':1')!.message, /must NOT have more than 21 characters/);
  assert.equal(c('/svc/mode', 'tcp'), undefined);
  assert.match(c('/svc/mode', 'udp')!.message, /must be equal to one of the allowed values/);
  assert.equal(c('/svc/members/m1', '{"host": "db1.example", "port": 5432}'), undefined);
  const inj = c('/svc/members/m1', '{"host": "db1", "port": "1\\"; } sub vcl_recv { return (synth(500)); } #"}')!;
  assert.equal(inj.kind, 'rule');
  assert.match(inj.message, /value\/port must be integer/);
  assert.equal(c('/svc/members/m1', 'secret-not-json')!.message, 'the value breaks values[2] (keys "members/*"): the value is not JSON');
  assert.equal(c('/svc/addr', '::1'), undefined);
  assert.ok(c('/svc/addr', '127.0.0.1'));
  assert.equal(c('/svc/unruled', 'anything at all'), undefined, 'keys outside every glob are free (but for control characters)');
  for (const v of ['web.example:80', 'secret-not-json']) {
    assert.ok(!JSON.stringify([c('/svc/backends/b1', v), c('/svc/members/m1', v)]).includes(v), 'no value in a message');
  }
});

test('multiline lets control characters through in values, never in keys; rules still apply', () => {
  const pem = '-----BEGIN CERTIFICATE-----\r\nMIIB\r\n-----END CERTIFICATE-----\n';
  assert.equal(check(false, [])('/svc/cert', pem)?.kind, 'control');
  assert.equal(check(true, [])('/svc/cert', pem), undefined);
  assert.equal(check(true, [])('/svc/a\nb', 'v')?.kind, 'control', 'a key never holds a line break');
  assert.equal(check(true, [{ keys: 'cert', schema: { pattern: '^-----BEGIN' }, json: false }])('/svc/cert', 'x\ny')?.kind, 'rule');
});

test('TargetData keeps its refused keys up to date as keys come and go; assertValues fails or holds', () => {
  const c = check(false, [{ keys: 'b/*', schema: { pattern: '^[0-9.:]+$' }, json: false }]);
  const d = new TargetData([['/svc/b/1', '10.0.0.1:80'], ['/svc/b/2', 'bad host']], c);
  assert.equal(d.refused, 1);
  assert.throws(() => assertValues('t', d), (e: unknown) => e instanceof TargetError && e.stage === 'hold' && e.cause instanceof HoldError && /key \/svc\/b\/2: .*; left untouched$/.test(e.message));
  d.set('/svc/x', 'a\u0000b');
  assert.equal(d.refused, 2);
  // A control character is the more serious: it is reported first, as a failed render.
  assert.throws(() => assertValues('t', d), (e: unknown) => e instanceof TargetError && e.stage === 'render' && e.cause instanceof ValueError && /^target t: key \/svc\/x: .*U\+0000 \(NUL\).*\(1 more key\(s\) refused too\)$/.test(e.message));
  d.delete('/svc/x');
  d.set('/svc/b/2', '10.0.0.2:80');
  assert.equal(d.refused, 0);
  assertValues('t', d);
  d.set('/svc/b/3', '\u001b[2J');
  assert.equal(d.problem()?.key, '/svc/b/3');
  d.delete('/svc/b/3');
  assert.equal(d.problem(), undefined);
});

/**
 * `reconfig import confd` on fixture confdirs: the conf.d JSON written (compared as text), the templates
 * rendered through compileTemplate with each target's data against the output confd gives, the settings
 * lines, `reconfig validate` on the result, --dry-run, and the `file:line:` report for bad input (--force).
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { validatePlan } from '../../src/flags';
import { createLogger } from '../../src/log';
import { validate as validateMode } from '../../src/modes/validate';
import type { HupRelay } from '../../src/signals';

/** `reconfig validate` on `cfgdir`, its stdout and stderr to `out` and `err`. */
function validate(cfg: { cfgdir: string; prefix: string }, out: (s: string) => void, err: (s: string) => void): Promise<unknown> {
  const cx = { log: createLogger({}), hups: {} as HupRelay, out, err, env: {} };
  return validateMode(validatePlan(cfg), cx);
}
import { importConfd } from '../../src/import/confd/command';
import { TargetData } from '../../src/render/data';
import { compileTemplate } from '../../src/render/template';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'import', 'fixtures');
const CONFD = path.join(FIXTURES, 'confd');
const EXPECTED = path.join(FIXTURES, 'confd-expected');

interface Run {
  result: Awaited<ReturnType<typeof importConfd>>;
  out: string;
  err: string;
}

async function run(opts: { confdir: string; out: string; dryRun?: boolean; force?: boolean }): Promise<Run> {
  let out = '';
  let err = '';
  const result = await importConfd(
    { confdir: opts.confdir, out: opts.out, dryRun: opts.dryRun ?? false, force: opts.force ?? false },
    (t) => (out += t),
    (t) => (err += t),
  );
  return { result, out, err };
}

function withDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'reconfig-import-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The data a target sees, as the agent gives it: each key and everything under it (no global prefix here). */
function dataFor(target: { key?: string; keys?: string[] }): Record<string, string> {
  const all = JSON.parse(readFileSync(path.join(FIXTURES, 'confd-data.json'), 'utf8')) as Record<string, string>;
  const keys = target.keys ?? [target.key!];
  return Object.fromEntries(Object.entries(all).filter(([k]) => keys.some((p) => k === p || k.startsWith(`${p}/`))));
}

test('import: conf.d JSON as expected, templates that render what confd renders, settings printed', async (t) => {
  const out = withDir(t);
  const r = await run({ confdir: CONFD, out });
  assert.deepEqual(r.result, { kind: 'ok' });
  assert.equal(r.err, '');
  for (const id of ['haproxy', 'nginx', 'pgbouncer']) {
    const json = readFileSync(path.join(out, 'conf.d', `${id}.json`), 'utf8');
    assert.equal(json, readFileSync(path.join(EXPECTED, 'conf.d', `${id}.json`), 'utf8'), id);
    const spec = JSON.parse(json) as { source: string; key?: string; keys?: string[] };
    const file = path.join(out, 'templates', spec.source);
    const render = compileTemplate(file, readFileSync(file, 'utf8'));
    const data = new TargetData(Object.entries(dataFor(spec))).toObject();
    assert.equal(render(data), readFileSync(path.join(EXPECTED, 'rendered', id), 'utf8'), id);
  }
  const settings = readFileSync(path.join(EXPECTED, 'settings'), 'utf8').replace('CONFDIR', CONFD).replace('OUT', out);
  assert.equal(r.out, `${settings}wrote 3 target(s) to ${out}\n`);
  assert.doesNotMatch(r.out, /not-a-real-password/);
});

test('import: the single-key output passes reconfig validate', async (t) => {
  const out = withDir(t);
  assert.deepEqual((await run({ confdir: CONFD, out })).result, { kind: 'ok' });
  // The multi-key target (pgbouncer, "keys") validates too.
  let vout = '';
  let verr = '';
  const v = await validate({ cfgdir: out, prefix: '' }, (s) => (vout += s), (s) => (verr += s));
  assert.equal(verr, '');
  assert.deepEqual(v, { kind: 'ok' });
  assert.equal(vout, `${out}: 3 target(s), every template compiles\n`);
});

test('import --dry-run prints every file and writes nothing', async (t) => {
  const out = withDir(t);
  const r = await run({ confdir: CONFD, out, dryRun: true });
  assert.deepEqual(r.result, { kind: 'ok' });
  assert.deepEqual(readdirSync(out), []);
  for (const id of ['haproxy', 'nginx', 'pgbouncer']) {
    assert.ok(r.out.includes(`--- ${path.join(out, 'conf.d', `${id}.json`)}\n${readFileSync(path.join(EXPECTED, 'conf.d', `${id}.json`), 'utf8')}`), id);
    assert.ok(r.out.includes(`--- ${path.join(out, 'templates', `${id}.ejs`)}\n<% `), id);
  }
  assert.match(r.out, /would write 3 target\(s\)/);
});

test('import: bad input is reported as file:line, and nothing is written', async (t) => {
  const out = withDir(t);
  const bad = path.join(FIXTURES, 'bad');
  const r = await run({ confdir: bad, out });
  assert.deepEqual(r.result, { kind: 'invalid' });
  assert.deepEqual(readdirSync(out), []);
  const lines = r.err.trimEnd().split('\n');
  // The parser's own words for a TOML syntax error (with the line where it noticed) may change between versions.
  assert.match(lines[1], new RegExp(`^${bad}/conf\\.d/broken\\.toml:[45]: not valid TOML: `));
  assert.deepEqual([lines[0], ...lines.slice(2, -1)], [
    `${bad}/confd.toml:1: backend "consul": reconfig reads etcd only (confd's etcd and etcdv3 backends)`,
    `${bad}/templates/dns.tmpl:2: number 99999999999999999999 is beyond what reconfig computes exactly (2^53)`,
    `${bad}/templates/dns.tmpl:5: function "frob" not defined: it is neither one of confd's nor a Go built-in (confd refuses this template too)`,
    `${bad}/conf.d/missing.toml:2: src: ${bad}/templates/missing.tmpl cannot be read: ENOENT: no such file or directory, open '${bad}/templates/missing.tmpl'`,
    `${bad}/conf.d/mode.toml:5: mode: "644": give an octal string such as "0644" (confd reads "644" as decimal 644)`,
  ]);
  assert.equal(lines.at(-1), '6 problem(s): nothing written (--force writes anyway, marking each untranslated place for `reconfig validate` to refuse)');
});

test('import --force writes, marking each untranslated place; validate refuses it naming file:line', async (t) => {
  const out = withDir(t);
  const confdir = withDir(t);
  cpSync(path.join(FIXTURES, 'bad'), confdir, { recursive: true });
  rmSync(path.join(confdir, 'confd.toml'));
  for (const f of ['broken', 'missing', 'mode']) rmSync(path.join(confdir, 'conf.d', `${f}.toml`));
  const r = await run({ confdir, out, force: true });
  assert.deepEqual(r.result, { kind: 'ok' });
  assert.match(r.out, /wrote 1 target\(s\) to .*, with 2 place\(s\) marked UNTRANSLATED\n$/);
  const ejs = readFileSync(path.join(out, 'templates', 'dns.ejs'), 'utf8');
  assert.equal(ejs.split('\n').length, readFileSync(path.join(confdir, 'templates', 'dns.tmpl'), 'utf8').split('\n').length);
  let verr = '';
  const v = await validate({ cfgdir: out, prefix: '' }, () => undefined, (s) => (verr += s));
  assert.deepEqual(v, { kind: 'invalid' });
  assert.match(verr, new RegExp(`templates/dns\\.ejs:2: left untranslated by reconfig import confd \\(${confdir}/templates/dns\\.tmpl:2: number 99999999999999999999 is beyond`));
});

test('import: an existing file that differs is not overwritten without --force', async (t) => {
  const out = withDir(t);
  assert.deepEqual((await run({ confdir: CONFD, out })).result, { kind: 'ok' });
  // The same import again changes nothing and is fine.
  assert.deepEqual((await run({ confdir: CONFD, out })).result, { kind: 'ok' });
  const file = path.join(out, 'conf.d', 'nginx.json');
  writeFileSync(file, '{"edited": true}\n');
  const r = await run({ confdir: CONFD, out });
  assert.deepEqual(r.result, { kind: 'invalid' });
  assert.match(r.err, new RegExp(`^${file}:1: exists and differs: not overwritten \\(move it away, or --force\\)$`, 'm'));
  assert.equal(readFileSync(file, 'utf8'), '{"edited": true}\n');
  assert.deepEqual((await run({ confdir: CONFD, out, force: true })).result, { kind: 'ok' });
  assert.equal(readFileSync(file, 'utf8'), readFileSync(path.join(EXPECTED, 'conf.d', 'nginx.json'), 'utf8'));
});

test('import: confd.toml\'s global prefix becomes --prefix and replaces a resource\'s own, as in confd', async (t) => {
  const confdir = withDir(t);
  const out = withDir(t);
  cpSync(CONFD, confdir, { recursive: true });
  writeFileSync(path.join(confdir, 'confd.toml'), 'prefix = "production/"\nnodes = ["http://127.0.0.1:2379"]\n');
  const r = await run({ confdir, out });
  assert.deepEqual(r.result, { kind: 'ok' });
  assert.match(r.out, /^RECONFIG_PREFIX=\/production$/m);
  assert.match(r.out, /^RECONFIG_ENDPOINTS=http:\/\/127\.0\.0\.1:2379$/m);
  assert.match(r.err, /nginx\.toml:3: note: prefix "\/prod" is ignored: confd\.toml's prefix "\/production" replaces it, in confd as here/);
  const nginx = JSON.parse(readFileSync(path.join(out, 'conf.d', 'nginx.json'), 'utf8')) as { key: string };
  assert.equal(nginx.key, '/upstreams');
  assert.ok(!readFileSync(path.join(out, 'templates', 'nginx.ejs'), 'utf8').includes('confd.at('));
});

test('import: a confdir without conf.d is a usage error', async (t) => {
  const r = await run({ confdir: withDir(t), out: withDir(t) });
  assert.equal(r.result.kind, 'failed');
  assert.match(String((r.result as { error: Error }).error.message), /no conf\.d\/ there/);
  assert.ok(!existsSync(path.join(os.tmpdir(), 'nonexistent')));
});

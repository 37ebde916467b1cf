/**
 * The import against the real confd, byte for byte. When CONFD_BIN names a confd binary (scripts/build-confd.sh
 * builds one from a confd source tree), every fixture under fixtures/templates is rendered twice from the same
 * keys in a real etcd: by confd itself (`-onetime -backend etcdv3`, one resource whose keys are the fixture's
 * data under a prefix of the test's own), and by reconfig's translation (as translate.test.ts renders it). The
 * two outputs must be identical, and confd's must be the fixture's NAME.out, so that the expectations written by
 * hand are proven by confd (real-confd-confdir.test.ts does the same for the end-to-end confdir). Two tables
 * list templates that confd refuses, which reconfig must refuse too, and templates that reconfig refuses on
 * purpose where confd writes; their reconfig half runs without confd.
 *
 * Environment: the templates' `getenv` reads RECONFIG_IMPORT_TEST_ENV, set to the same value for both; their
 * `fileExists` asks about paths that are the same for both on one machine. The fixtures keep out `datetime`,
 * `lookupIP` and `lookupSRV`, whose output depends on the moment or on DNS.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { translate } from '../../src/import/confd/emit';
import { TargetData } from '../../src/render/data';
import { compileTemplate } from '../../src/render/template';
import { CONFD_BIN, FIXTURE_ENV, needsConfd as skip, runConfd, type ConfdRun as Run } from '../support/confd';
import { sharedEtcd, uniquePrefix } from '../support/etcd';
import { tempDir } from '../support/util';

// Fixtures are read from the source tree (dist/test/import -> test/import).
const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'import', 'fixtures');
const TEMPLATES = path.join(FIXTURES, 'templates');
/** A directory to which confd's output for each fixture is written, as NAME.out (for writing a new fixture). */
const OUT_DIR = process.env.REAL_CONFD_OUT_DIR;
const { name: ENV_NAME, value: ENV_VALUE } = FIXTURE_ENV;

// Only a run that compares starts an etcd.
const shared = CONFD_BIN ? sharedEtcd() : undefined;

function etcd(): NonNullable<typeof shared> {
  if (!shared) throw new Error('real-confd: etcd used without CONFD_BIN');
  return shared;
}

async function putAll(prefix: string, data: Record<string, string>): Promise<void> {
  for (const [k, v] of Object.entries(data)) await etcd().client.put(`${prefix}${k}`).value(v);
}

/** reconfig's translation of `src`, rendered on `data`, as translate.test.ts renders it. */
function reconfigRender(src: string, data: Record<string, string>): string {
  const t = translate(src, { file: 't.tmpl', force: false });
  assert.deepEqual(t.problems, []);
  const prev = process.env[ENV_NAME];
  process.env[ENV_NAME] = ENV_VALUE;
  try {
    return compileTemplate('t.ejs', t.ejs)(new TargetData(Object.entries(data)).toObject());
  } finally {
    if (prev === undefined) delete process.env[ENV_NAME];
    else process.env[ENV_NAME] = prev;
  }
}

const names = readdirSync(TEMPLATES).filter((n) => n.endsWith('.tmpl')).map((n) => n.slice(0, -5)).sort();

/**
 * confd -onetime on one template and its keys (under a prefix of the test's own: confd strips it again before
 * the template sees a key); `out` is what it wrote, if it wrote.
 */
async function confdRender(name: string, source: string, data: Record<string, string>): Promise<Run & { out?: string; bytes?: Buffer }> {
  const dir = tempDir(`reconfig-real-confd-${name.replace(/[^A-Za-z0-9]/g, '')}-`);
  const prefix = uniquePrefix(name);
  await putAll(prefix, data);
  for (const d of ['conf.d', 'templates', 'out']) mkdirSync(path.join(dir, d));
  writeFileSync(path.join(dir, 'templates', 't.tmpl'), source);
  const dest = path.join(dir, 'out', 't');
  writeFileSync(path.join(dir, 'conf.d', 't.toml'), `[template]\nprefix = "${prefix}"\nsrc = "t.tmpl"\ndest = "${dest}"\nkeys = ["/"]\n`);
  const run = await runConfd(etcd().etcd.url, dir);
  if (!existsSync(dest)) return run;
  const bytes = readFileSync(dest);
  return { ...run, out: bytes.toString('utf8'), bytes };
}

for (const name of names) {
  test(`fixture ${name}: confd writes NAME.out, and reconfig writes what confd writes`, { skip }, async () => {
    const source = readFileSync(path.join(TEMPLATES, `${name}.tmpl`), 'utf8');
    const data = JSON.parse(readFileSync(path.join(TEMPLATES, `${name}.json`), 'utf8')) as Record<string, string>;
    const run = await confdRender(name, source, data);
    assert.equal(run.code, 0, `confd failed on ${name}.tmpl: ${run.stderr}`);
    const byConfd = run.out ?? '';
    // For a new fixture: confd's output, to be kept as NAME.out once read.
    if (OUT_DIR) writeFileSync(path.join(OUT_DIR, `${name}.out`), byConfd);
    assert.equal(reconfigRender(source, data), byConfd, `${name}: reconfig (actual) against confd (expected)`);
    assert.equal(readFileSync(path.join(TEMPLATES, `${name}.out`), 'utf8'), byConfd, `${name}: ${name}.out (actual) against confd (expected)`);
  });
}

/** Why reconfig refuses a template: the translation's problems, or the render's error. */
function reconfigRefusal(source: string, data: Record<string, string>): string {
  const t = translate(source, { file: 't.tmpl', force: false });
  if (t.problems.length > 0) return t.problems.map((p) => `${p.line}: ${p.message}`).join('\n');
  try {
    compileTemplate('t.ejs', t.ejs)(new TargetData(Object.entries(data)).toObject());
  } catch (err) {
    return (err as Error).message;
  }
  return 'no refusal: it rendered';
}

/** Templates that confd refuses (when it parses them) or fails on (when it runs them): reconfig must not write them either. */
const REFUSED: ReadonlyArray<{ what: string; source: string; data?: Record<string, string>; reconfig: RegExp }> = [
  { what: 'two non-empty definitions of one name', source: '{{define "T"}}a{{end}}\n{{define "T"}}b{{end}}', reconfig: /^2: template: multiple definition of template "T"/ },
  { what: 'two non-empty blocks of one name', source: '{{block "B" 1}}x{{end}}{{block "B" 2}}y{{end}}', reconfig: /^1: template: multiple definition of template "B"/ },
  { what: 'not with two arguments', source: '{{not 1 2}}', reconfig: /^t\.ejs:1: wrong number of args for not: want 1 got 2$/ },
  { what: 'base with two arguments', source: '{{base "a" "b"}}', reconfig: /^t\.ejs:1: wrong number of args for base: want 1 got 2$/ },
  { what: 'a piped value that makes one argument too many', source: '{{"x" | base64Encode "y"}}', reconfig: /^t\.ejs:1: wrong number of args for base64Encode: want 1 got 2$/ },
  { what: 'getv without a key', source: '{{getv}}', reconfig: /^t\.ejs:1: wrong number of args for getv: want at least 1 got 0$/ },
  { what: 'fileExists without a path', source: '{{fileExists}}', reconfig: /^t\.ejs:1: wrong number of args for fileExists: want 1 got 0$/ },
  { what: 'a failing pipeline before a wrong count', source: '{{getv "/nope" | toUpper "x"}}', reconfig: /^t\.ejs:1: error calling getv: key does not exist: \/nope$/ },
  { what: 'json of a number', source: '{{json "1"}}', reconfig: /^t\.ejs:1: error calling json: json: cannot unmarshal number into Go value of type map\[string\]interface \{\}$/ },
  { what: 'jsonArray of a bool', source: '{{jsonArray (getv "/b")}}', data: { '/b': 'true' }, reconfig: /^t\.ejs:1: error calling jsonArray: json: cannot unmarshal bool into Go value of type \[\]interface \{\}$/ },
  { what: 'base64Decode without its padding', source: '{{base64Decode "YWJjZA"}}', reconfig: /^t\.ejs:1: error calling base64Decode: illegal base64 data at input byte 4$/ },
  { what: 'base64Decode with padding too early', source: '{{base64Decode "Y==="}}', reconfig: /^t\.ejs:1: error calling base64Decode: illegal base64 data at input byte 1$/ },
  { what: 'base64Decode of a character outside the alphabet', source: '{{base64Decode "YW\\nJj!"}}', reconfig: /^t\.ejs:1: error calling base64Decode: illegal base64 data at input byte 5$/ },
];

/**
 * Where reconfig fails on purpose and confd writes: numbers past 2^53 (reconfig's ints are exact only so far;
 * Go's int64 goes on and wraps), and bytes that are not UTF-8 (reconfig renders text). A failed render keeps the
 * old file; writing a different number or U+FFFD would not.
 */
const DELIBERATE: ReadonlyArray<{ what: string; source: string; confd: string; reconfig: RegExp }> = [
  { what: 'an int product past 2^63 (Go wraps it)', source: '{{mul 100000000000 100000000000}}', confd: '1864712049423024128', reconfig: /^t\.ejs:1: error calling mul: mul 100000000000 100000000000 is beyond what reconfig computes exactly \(2\^53\)$/ },
  { what: 'an int sum past 2^53', source: '{{add (atoi "9007199254740991") 2}}', confd: '9007199254740993', reconfig: /^t\.ejs:1: error calling add: add 9007199254740991 2 is beyond/ },
  { what: 'atoi past 2^53', source: '{{atoi "9007199254740993"}}', confd: '9007199254740993', reconfig: /^t\.ejs:1: error calling atoi: 9007199254740993 is beyond/ },
  { what: 'base64Decode to bytes that are not UTF-8', source: '{{base64Decode "gA=="}}', confd: '80', reconfig: /^t\.ejs:1: error calling base64Decode: the decoded data is not UTF-8 text/ },
];

for (const r of REFUSED) {
  test(`refused by both: ${r.what}`, async (t) => {
    await t.test('reconfig refuses it', () => {
      assert.match(reconfigRefusal(r.source, r.data ?? {}), r.reconfig);
    });
    await t.test('confd refuses it', { skip }, async () => {
      const run = await confdRender(r.what, r.source, r.data ?? {});
      assert.notEqual(run.code, 0, `confd wrote ${JSON.stringify(run.out)}`);
      assert.equal(run.out, undefined);
    });
  });
}

for (const d of DELIBERATE) {
  test(`reconfig refuses on purpose what confd writes: ${d.what}`, async (t) => {
    await t.test('reconfig refuses it', () => {
      assert.match(reconfigRefusal(d.source, {}), d.reconfig);
    });
    await t.test('confd writes it', { skip }, async () => {
      const run = await confdRender(d.what, d.source, {});
      assert.equal(run.code, 0, run.stderr);
      // Compared as text, or as hex when it is not UTF-8.
      assert.equal(d.confd === run.out ? run.out : run.bytes?.toString('hex'), d.confd);
    });
  });
}

// datetime is the moment of the render: only what does not change from one moment to the next is compared.
const DATETIME = '{{datetime.Location}} {{datetime.UTC.Location}} {{datetime.IsZero}} {{printf "%T %T" datetime datetime.Location}} {{sub (datetime.AddDate 1 0 0).Year datetime.Year}} {{gt datetime.YearDay 0}}';

test('datetime: its location, type and date arithmetic', async (t) => {
  await t.test('reconfig', () => {
    assert.equal(reconfigRender(DATETIME, {}), 'Local UTC false time.Time *time.Location 1 true');
  });
  await t.test('confd writes the same', { skip }, async () => {
    const run = await confdRender('datetime', DATETIME, {});
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.out, reconfigRender(DATETIME, {}));
  });
});

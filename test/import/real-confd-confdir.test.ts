/**
 * The end-to-end confdir (fixtures/confd: haproxy, nginx with a prefix of its own, pgbouncer with two keys) run
 * by the real confd (`-onetime`, CONFD_BIN) and, imported by `reconfig import confd`, by `reconfig --onetime`,
 * on the same keys in a real etcd: the files, their modes and the reload commands must be the same. Once with
 * the resources' own prefixes, once with a prefix in confd.toml, which replaces them in confd and becomes
 * RECONFIG_PREFIX in the import. Skipped without CONFD_BIN (see docs/development.md).
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../support/cli';
import { CONFD_BIN, needsConfd as skip, runConfd } from '../support/confd';
import { sharedEtcd, uniquePrefix } from '../support/etcd';
import { tempDir } from '../support/util';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'import', 'fixtures');
const IDS = ['haproxy', 'nginx', 'pgbouncer'];
const WHO = ['confd', 'reconfig'] as const;

// Only a run that compares starts an etcd.
const shared = CONFD_BIN ? sharedEtcd() : undefined;

function etcd(): NonNullable<typeof shared> {
  if (!shared) throw new Error('real-confd-confdir: etcd used without CONFD_BIN');
  return shared;
}

async function putAll(prefix: string, data: Record<string, string>): Promise<void> {
  for (const [k, v] of Object.entries(data)) await etcd().client.put(`${prefix}${k}`).value(v);
}

/**
 * Two copies of the fixture, one for each program, each writing its own files under `dir/<who>/files`;
 * confd.toml (TLS to hosts that do not exist here) is left out, the commands are real ones that leave a trace,
 * and `resourcePrefix` rewrites each resource's own prefix.
 */
function copyConfdir(dir: string, resourcePrefix: (own: string) => string | undefined): void {
  for (const who of WHO) {
    const confdir = path.join(dir, who, 'confd');
    mkdirSync(path.join(dir, who, 'files'), { recursive: true });
    cpSync(path.join(FIXTURES, 'confd', 'conf.d'), path.join(confdir, 'conf.d'), { recursive: true });
    cpSync(path.join(FIXTURES, 'confd', 'templates'), path.join(confdir, 'templates'), { recursive: true });
    for (const id of IDS) {
      const file = path.join(confdir, 'conf.d', `${id}.toml`);
      const original = readFileSync(file, 'utf8');
      const prefix = resourcePrefix(/^prefix = "(.*)"$/m.exec(original)?.[1] ?? '');
      const text = original
        .replace(/^prefix = .*\n/m, '')
        .replace(/^\[template\]$/m, prefix === undefined ? '[template]' : `[template]\nprefix = "${prefix}"`)
        .replace(/^dest = .*$/m, `dest = "${path.join(dir, who, 'files', id)}"`)
        .replace(/^check_cmd = .*$/m, 'check_cmd = "test -s {{.src}}"')
        .replace(/^reload_cmd = .*$/m, `reload_cmd = "touch ${path.join(dir, who, `${id}.reloaded`)}"`)
        .replace(/^(uid|gid) = .*$/gm, '');
      writeFileSync(file, text);
    }
  }
}

/** Imports dir/reconfig/confd and runs it once; returns the import's output (the settings it prints). */
async function importAndRun(dir: string, args: string[]): Promise<string> {
  const out = path.join(dir, 'reconfig', 'out');
  const imported = await runCli(['import', 'confd', '--confdir', path.join(dir, 'reconfig', 'confd'), '--out', out]);
  assert.equal(imported.code, 0, imported.stderr);
  const onetime = await runCli(['-c', out, '--port', String(etcd().etcd.clientPort), ...args, '--onetime']);
  assert.equal(onetime.code, 0, onetime.stderr);
  return imported.stdout;
}

/** The same bytes, modes and reloads from both; returns confd's files. */
function compare(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const id of IDS) {
    const byConfd = readFileSync(path.join(dir, 'confd', 'files', id), 'utf8');
    assert.equal(readFileSync(path.join(dir, 'reconfig', 'files', id), 'utf8'), byConfd, `${id}: reconfig (actual) against confd (expected)`);
    const mode = (who: string): string => (statSync(path.join(dir, who, 'files', id)).mode & 0o7777).toString(8);
    assert.equal(mode('reconfig'), mode('confd'), `${id}: the file's mode`);
    for (const who of WHO) readFileSync(path.join(dir, who, `${id}.reloaded`));
    files[id] = byConfd;
  }
  return files;
}

const DATA = JSON.parse(readFileSync(path.join(FIXTURES, 'confd-data.json'), 'utf8')) as Record<string, string>;

test('resources with prefixes of their own: confd and the import write the same files, and confd-expected is what confd writes', { skip }, async () => {
  const dir = tempDir('reconfig-real-confd-e2e-');
  // The test's own key prefix goes in front of each resource's prefix (nginx's "/prod" becomes "<prefix>/prod"),
  // for both programs (confd's -prefix would replace the resource's own instead).
  const prefix = uniquePrefix('e2e');
  copyConfdir(dir, (own) => `${prefix}${own}`);
  await putAll(prefix, DATA);
  const run = await runConfd(etcd().etcd.url, path.join(dir, 'confd', 'confd'));
  assert.equal(run.code, 0, `confd failed: ${run.stderr}`);
  await importAndRun(dir, []);
  const files = compare(dir);
  for (const id of IDS) {
    assert.equal(readFileSync(path.join(FIXTURES, 'confd-expected', 'rendered', id), 'utf8'), files[id], `${id}: confd-expected/rendered (actual) against confd (expected)`);
  }
});

test("a prefix in confd.toml replaces the resources' own, in confd as in the import", { skip }, async () => {
  const dir = tempDir('reconfig-real-confd-global-');
  const prefix = uniquePrefix('global');
  copyConfdir(dir, (own) => own || undefined);
  for (const who of WHO) writeFileSync(path.join(dir, who, 'confd', 'confd.toml'), `backend = "etcdv3"\nprefix = "${prefix}"\n`);
  // nginx reads /upstreams under the global prefix, not under its own /prod: only "cache" is there.
  await putAll(prefix, { ...DATA, '/upstreams/cache/servers/c1': '10.0.9.1:6081' });
  const run = await runConfd(etcd().etcd.url, path.join(dir, 'confd', 'confd'), { configFile: path.join(dir, 'confd', 'confd', 'confd.toml') });
  assert.equal(run.code, 0, `confd failed: ${run.stderr}`);
  const settings = await importAndRun(dir, ['-p', prefix]);
  assert.match(settings, new RegExp(`^RECONFIG_PREFIX=${prefix}$`, 'm'));
  const files = compare(dir);
  assert.equal(files.nginx, '\nupstream cache {\n    server 10.0.9.1:6081;\n}\n\n');
});

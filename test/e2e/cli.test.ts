import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { AgentProcess, runCli } from '../support/cli';
import { freePort, sharedEtcd, uniquePrefix } from '../support/etcd';
import { makeCfgdir, readOr, tempDir, waitFor } from '../support/util';
import { examples, seedExamples } from '../support/examples';

const shared = sharedEtcd();
const port = (): string => String(shared.etcd.clientPort);

function simpleCfg(extra: Record<string, unknown> = {}): string {
  return makeCfgdir({ app: { id: 'app', source: 'app.ejs', target: 'out/app.conf', key: '/app', recursive: true, ...extra } }, {
    'app.ejs': '<% for (const c of children("/app")) { %><%= c.name %> <%= c.value %>\n<% } %>',
  });
}

test('--onetime applies every target, prints a summary and exits 0', async () => {
  const p = uniquePrefix('once');
  await shared.client.put(`${p}/app/web1`).value('10.0.0.1:80');
  const cfg = simpleCfg();
  const res = await runCli(['-c', cfg, '--port', port(), '-p', p, '--onetime']);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(readFileSync(path.join(cfg, 'out/app.conf'), 'utf8'), 'web1 10.0.0.1:80\n');
  assert.match(res.stdout, /^reconfig --onetime: 1 target\(s\) at revision \d+: 1 changed, 0 unchanged, 0 failed$/m);
  assert.match(res.stdout, /app .*out\/app\.conf {2}changed$/m);
  const again = await runCli(['-c', cfg, '--port', port(), '-p', p, '--onetime']);
  assert.match(again.stdout, /0 changed, 1 unchanged, 0 failed/);
});

test('--onetime exits 1 when a check fails, and the file keeps its bytes', async () => {
  const p = uniquePrefix('oncefail');
  await shared.client.put(`${p}/app/web1`).value('bad');
  const cfg = simpleCfg({ checkcmd: 'if grep -q bad {{src}}; then echo "found bad backend" >&2; exit 2; fi' });
  const res = await runCli(['-c', cfg, '--port', port(), '-p', p, '--onetime']);
  assert.equal(res.code, 1);
  assert.match(res.stdout, /FAILED at check: .*exited 2: found bad backend/);
  assert.match(res.stderr, /"exitCode":2/);
  assert.match(res.stderr, /"output":"found bad backend\\n"/);
  assert.equal(existsSync(path.join(cfg, 'out/app.conf')), false);
});

test('--onetime exits 1 when the reload fails; the new file stays', async () => {
  const p = uniquePrefix('reloadfail');
  await shared.client.put(`${p}/app/web1`).value('ok');
  const cfg = simpleCfg({ reloadcmd: 'echo cannot reload; exit 7' });
  const res = await runCli(['-c', cfg, '--port', port(), '-p', p, '--onetime']);
  assert.equal(res.code, 1);
  assert.match(res.stdout, /FAILED at reload: .*exited 7: cannot reload/);
  assert.equal(readFileSync(path.join(cfg, 'out/app.conf'), 'utf8'), 'web1 ok\n');
});

test('--onetime exits 1 when minkeys holds a target, and leaves the file alone', async () => {
  const p = uniquePrefix('oncemin');
  await shared.client.put(`${p}/app/web1`).value('only one');
  const cfg = simpleCfg({ minkeys: 2 });
  const res = await runCli(['-c', cfg, '--port', port(), '-p', p, '--onetime']);
  assert.equal(res.code, 1);
  assert.match(res.stdout, /FAILED at hold: .*\/app holds 1 key\(s\), fewer than minkeys 2/);
  assert.equal(existsSync(path.join(cfg, 'out/app.conf')), false);
});

test('an invalid conf.d exits 2 before connecting, listing every problem', async () => {
  const cfg = makeCfgdir(
    { web: { id: 'web', source: 'nope.ejs', target: 'x', key: '/x', recursive: 'yes' }, broken: '{' },
    {},
  );
  const closed = await freePort();
  const res = await runCli(['-c', cfg, '--port', String(closed), '--onetime']);
  assert.equal(res.code, 2);
  assert.match(res.stderr, /conf\.d\/web\.json: \/recursive: must be boolean/);
  assert.match(res.stderr, /conf\.d\/broken\.json: invalid JSON/);
  assert.doesNotMatch(res.stderr, /127\.0\.0\.1/, 'it never tried to connect');
});

test('--onetime against a closed port fails fast with exit 3, naming the endpoint', async () => {
  const closed = await freePort();
  const res = await runCli(['-c', simpleCfg(), '--port', String(closed), '--onetime'], { timeoutMs: 40_000 });
  assert.equal(res.code, 3, res.stderr);
  assert.match(res.stderr, new RegExp(`http://127\\.0\\.0\\.1:${closed}`));
  assert.ok(res.ms < 30_000, `took ${res.ms} ms`);
});

test('--onetime against a port that accepts TCP and never answers exits 3 within 30 s', async () => {
  const sockets: net.Socket[] = [];
  const silent = net.createServer((s) => sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const silentPort = (silent.address() as net.AddressInfo).port;
  try {
    const res = await runCli(['-c', simpleCfg(), '--port', String(silentPort), '--onetime'], { timeoutMs: 40_000 });
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, new RegExp(`127\\.0\\.0\\.1:${silentPort}`));
    assert.ok(res.ms < 30_000, `took ${res.ms} ms`);
  } finally {
    sockets.forEach((s) => s.destroy());
    silent.close();
  }
});

test('--notreally prints a diff, writes nothing and runs no command', async () => {
  const p = uniquePrefix('noop');
  await shared.client.put(`${p}/app/web1`).value('new');
  const marker = path.join(tempDir(), 'ran');
  const cfg = simpleCfg({ checkcmd: `touch ${marker} # {{src}}`, reloadcmd: `touch ${marker}` });
  const dest = path.join(cfg, 'out/app.conf');
  cpSync(path.join(cfg, 'templates/app.ejs'), dest);
  writeFileSync(dest, 'web1 old\n');
  const res = await runCli(['-c', cfg, '--port', port(), '-p', p, '--onetime', '--notreally']);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /^-web1 old$/m);
  assert.match(res.stdout, /^\+web1 new$/m);
  assert.match(res.stdout, /1 would change/);
  assert.equal(readFileSync(dest, 'utf8'), 'web1 old\n');
  assert.equal(existsSync(marker), false);
});

test('watch mode: follows etcd, --notreally in watch mode prints diffs, SIGTERM exits 0', async () => {
  const p = uniquePrefix('watch');
  const cfg = simpleCfg();
  const dest = path.join(cfg, 'out/app.conf');
  const agent = AgentProcess.start(['-c', cfg, '--port', port(), '-p', p]);
  // Its own cfgdir: with the same one, the real agent may write the file before the preview compares.
  const previewCfg = simpleCfg();
  const preview = AgentProcess.start(['-c', previewCfg, '--port', port(), '-p', p, '--notreally']);
  try {
    await agent.waitForLog((l) => l.msg.startsWith('first full apply done'), 'first sync');
    await preview.waitForLog((l) => l.msg.startsWith('first full apply done'), 'first sync (preview)');
    await shared.client.put(`${p}/app/web1`).value('10.0.0.1:80');
    await waitFor(() => readOr(dest) === 'web1 10.0.0.1:80\n', 'the change');
    await waitFor(() => /^\+web1 10\.0\.0\.1:80$/m.test(preview.stdout), 'the preview diff');
    assert.equal(existsSync(path.join(previewCfg, 'out/app.conf')), false, 'the preview wrote nothing');
    const applied = agent.logs.find((l) => l.msg === 'applied')!;
    assert.equal(applied.target, 'app');
    assert.equal(applied.dest, dest);
    assert.equal(typeof applied.revision, 'number');
  } finally {
    assert.deepEqual(await agent.stop(), { code: 0, signal: null });
    assert.deepEqual(await preview.stop(), { code: 0, signal: null });
  }
});

test('SIGHUP re-reads conf.d; an invalid one is logged and the old set keeps running', async () => {
  const p = uniquePrefix('hup');
  const cfg = simpleCfg();
  const dest = path.join(cfg, 'out/app.conf');
  const agent = AgentProcess.start(['-c', cfg, '--port', port(), '-p', p]);
  try {
    await agent.waitForLog((l) => l.msg.startsWith('first full apply done'), 'first sync');
    writeFileSync(path.join(cfg, 'conf.d/bad.json'), JSON.stringify({ id: 'bad', source: 'app.ejs', target: 'y', key: 'nope' }));
    agent.child.kill('SIGHUP');
    await agent.waitForLog((l) => /new configuration is invalid; still running the old set of 1/.test(l.msg), 'the refusal');
    assert.ok(agent.logs.some((l) => /bad\.json: \/key: must begin with \//.test(l.msg)));
    await shared.client.put(`${p}/app/x`).value('1');
    await waitFor(() => readOr(dest) === 'x 1\n', 'the old set still works');
    rmSync(path.join(cfg, 'conf.d/bad.json'));
    writeFileSync(path.join(cfg, 'templates/two.ejs'), '<% for (const c of children("/two")) { %><%= c.name %> <%= c.value %>\n<% } %>');
    writeFileSync(path.join(cfg, 'conf.d/two.json'), JSON.stringify({ id: 'two', source: 'two.ejs', target: 'out/two.conf', key: '/two', recursive: true }));
    agent.child.kill('SIGHUP');
    await agent.waitForLog((l) => l.msg === 'SIGHUP: configuration reloaded', 'the reload');
    await shared.client.put(`${p}/two/y`).value('2');
    await waitFor(() => readOr(path.join(cfg, 'out/two.conf')) === 'y 2\n', 'the added target');
  } finally {
    assert.equal((await agent.stop()).code, 0);
  }
});

test('the repo examples render and pass their real checks (haproxy -c, varnishd -C, nginx -t)', async () => {
  const p = uniquePrefix('examples');
  await seedExamples(shared.client, p);
  const cfg = examples();
  const res = await runCli(['-c', cfg, '--port', port(), '-p', p, '--onetime']);
  assert.equal(res.code, 0, res.stdout + res.stderr);
  assert.match(res.stdout, /3 target\(s\) at revision \d+: 3 changed/);
  assert.match(readFileSync(path.join(cfg, 'out/haproxy.cfg'), 'utf8'), /server web1 10\.0\.0\.1:80 check/);
  assert.match(readFileSync(path.join(cfg, 'out/backends.vcl'), 'utf8'), /\.host = "10\.0\.1\.1";/);
  assert.match(readFileSync(path.join(cfg, 'out/nginx.conf'), 'utf8'), /server 10\.0\.2\.1:9000;/);
});

test('a backend value with a stray newline is refused before any check runs, and never reaches the live file', async () => {
  const p = uniquePrefix('strays');
  await seedExamples(shared.client, p);
  const cfg = examples();
  const first = await runCli(['-c', cfg, '--port', port(), '-p', p, '--onetime']);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  const files = ['haproxy.cfg', 'backends.vcl', 'nginx.conf'].map((f) => path.join(cfg, 'out', f));
  const before = files.map((f) => readFileSync(f, 'utf8'));
  await shared.client.put(`${p}/services/web/backends/web1`).value('10.0.0.1:80\n    bogus directive');
  await shared.client.put(`${p}/services/cache/backends/c1`).value('{"host": "10.0.1.1\\nbogus", "port": 6081}');
  await shared.client.put(`${p}/services/api/backends/api1`).value('10.0.2.1:9000\nbogus');
  const res = await runCli(['-c', cfg, '--port', port(), '-p', p, '--onetime']);
  assert.equal(res.code, 1);
  // A raw line break is a control character (every target refuses it); varnish's is escaped inside JSON, and
  // its values rule wants a host name there.
  for (const id of ['haproxy', 'nginx']) assert.match(res.stdout, new RegExp(`^  ${id} .* FAILED at render: target ${id}: key /services/\\w+/backends/\\w+: the value holds a control character, U\\+000A`, 'm'));
  assert.match(res.stdout, /^ {2}varnish .* FAILED at hold: .*key \/services\/cache\/backends\/c1: the value breaks values\[0\].*value\/host must match format "ipv4"/m);
  assert.deepEqual(files.map((f) => readFileSync(f, 'utf8')), before, 'every live file keeps its bytes');
});

test('without the value guards, each daemon\'s own check still catches the stray newline', async () => {
  const p = uniquePrefix('strays-open');
  await seedExamples(shared.client, p);
  const open = (t: Record<string, unknown>): void => {
    t.multiline = true;
    delete t.values;
  };
  const cfg = examples({ haproxy: open, varnish: open, nginx: open });
  const first = await runCli(['-c', cfg, '--port', port(), '-p', p, '--onetime']);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  const files = ['haproxy.cfg', 'backends.vcl', 'nginx.conf'].map((f) => path.join(cfg, 'out', f));
  const before = files.map((f) => readFileSync(f, 'utf8'));
  await shared.client.put(`${p}/services/web/backends/web1`).value('10.0.0.1:80\n    bogus directive');
  await shared.client.put(`${p}/services/cache/backends/c1`).value('{"host": "10.0.1.1\\nbogus", "port": 6081}');
  await shared.client.put(`${p}/services/api/backends/api1`).value('10.0.2.1:9000\nbogus');
  const res = await runCli(['-c', cfg, '--port', port(), '-p', p, '--onetime']);
  assert.equal(res.code, 1);
  for (const id of ['haproxy', 'varnish', 'nginx']) assert.match(res.stdout, new RegExp(`^  ${id} .* FAILED at check: `, 'm'));
  assert.deepEqual(files.map((f) => readFileSync(f, 'utf8')), before, 'every live file keeps its bytes');
});

test('--help shows examples; bad flags exit 2', async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--onetime/);
  assert.match(help.stdout, /Examples:/);
  const bad = await runCli(['--prefix', 'noslash']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /must begin with \//);
  const version = await runCli(['--version']);
  assert.match(version.stdout, /^\d+\.\d+\.\d+/);
});

test('a word that is no command, or an argument a command does not take, exits 2 naming it', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['valdate'], /unknown command "valdate" \(the commands: validate, render, history, rollback, import, fleet/],
    [['import'], /say what to import: `reconfig import confd`/],
    [['import', 'consul'], /unknown command "import consul" \(the commands: import confd; see reconfig import --help\)/],
    [['validate', 'extra'], /reconfig validate takes no argument "extra"/],
  ];
  for (const [argv, message] of cases) {
    const res = await runCli(argv);
    assert.equal(res.code, 2, `${argv.join(' ')}: ${res.stderr}`);
    assert.match(res.stderr, message);
    assert.equal(res.stdout, '', `${argv.join(' ')} prints no help on stdout`);
  }
});

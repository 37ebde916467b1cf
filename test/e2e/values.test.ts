/**
 * Values are data, not config (real etcd, real haproxy -c and varnishd -C): control characters are refused unless a
 * target allows multi-line values, and `values` rules hold a target whose data breaks them.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { get, metric } from '../support/http';
import { AgentProcess, runCli, type LogLine } from '../support/cli';
import { freePort, sharedEtcd, uniquePrefix } from '../support/etcd';
import { REPO, examples, seedExamples } from '../support/examples';
import { HAPROXY_HEAD } from '../support/haproxy';
import { makeCfgdir, readOr, waitFor } from '../support/util';

const shared = sharedEtcd();
const port = (): string => String(shared.etcd.clientPort);

/** The README's haproxy pattern: `server <name> <value>`, checked by the real haproxy -c. */
const HAPROXY = `${HAPROXY_HEAD}<% for (const b of children(key)) { -%>
    server <%= b.name %> <%= b.value %>
<% } -%>
`;

const REDIRECT = '127.0.0.1:80\n  http-request redirect location https://evil.example/';

test('control characters never reach a target without multiline, though haproxy -c passes the injection; PEM passes with multiline', async () => {
  const p = uniquePrefix('ctl');
  const listen = `127.0.0.1:${await freePort()}`;
  const haproxy = (id: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    id,
    source: `${id}.ejs`,
    target: `out/${id}.cfg`,
    key: `/${id}`,
    recursive: true,
    checkcmd: 'haproxy -c -q -f {{src}}',
    ...extra,
  });
  const cfg = makeCfgdir(
    { closed: haproxy('closed'), open: haproxy('open', { multiline: true }), pem: { id: 'pem', source: 'pem.ejs', target: 'out/cert.pem', key: '/pem', multiline: true } },
    { 'closed.ejs': HAPROXY.replace('children(key)', "children('/closed')"), 'open.ejs': HAPROXY.replace('children(key)', "children('/open')"), 'pem.ejs': "<%- get('/pem') %>" },
  );
  const closed = path.join(cfg, 'out/closed.cfg');
  const open = path.join(cfg, 'out/open.cfg');
  for (const id of ['closed', 'open']) await shared.client.put(`${p}/${id}/web1`).value('10.0.0.1:80');
  await shared.client.put(`${p}/pem`).value('none yet');
  const agent = AgentProcess.start(['-c', cfg, '--port', port(), '-p', p, '--listen', listen]);
  try {
    await waitFor(() => readOr(closed).includes('server web1 10.0.0.1:80') && readOr(open).includes('server web1 10.0.0.1:80'), 'first render');
    const good = readOr(closed);

    // The hole: the redirect is a well-formed directive, and haproxy -c lets it through where it is allowed.
    await shared.client.put(`${p}/open/web1`).value(REDIRECT);
    await shared.client.put(`${p}/closed/web1`).value(REDIRECT);
    await waitFor(() => readOr(open).includes('http-request redirect location https://evil.example/'), 'the injection passing haproxy -c');
    const refusal = (cp: string): Promise<LogLine> =>
      agent.waitForLog((l) => l.target === 'closed' && l.stage === 'render' && String(l.err).includes(`key /closed/web1: the value holds a control character, ${cp}`), cp);
    await refusal('U+000A (line feed) at position 13');
    for (const [value, cp] of [
      ['10.0.0.1:80\u0000 backup', 'U+0000 (NUL) at position 12'],
      ['10.0.0.1:80\r  http-request deny', 'U+000D (carriage return) at position 12'],
      ['10.0.0.1:80 \u001b[2J', 'U+001B (escape) at position 13'],
    ]) {
      await shared.client.put(`${p}/closed/web1`).value(value);
      await refusal(cp);
      assert.equal(readOr(closed), good, `the file keeps its bytes (${cp})`);
    }
    const m = (await get(`http://${listen}/metrics`)).body;
    assert.ok((metric(m, 'reconfig_target_failures_total{target="closed",stage="render"}') ?? 0) >= 4, m);
    assert.equal((await get(`http://${listen}/healthz`)).status, 503, 'a refused value is a failure, not a hold');
    const logged = JSON.stringify(agent.logs);
    assert.ok(!logged.includes('evil.example') && !logged.includes('http-request deny'), 'no refused value in the log');

    // The sentinel: a good value after the refused ones applies.
    await shared.client.put(`${p}/closed/web1`).value('10.0.0.9:80');
    await waitFor(() => readOr(closed).includes('server web1 10.0.0.9:80'), 'the good value');

    const cert = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ==\r\n-----END CERTIFICATE-----\n';
    await shared.client.put(`${p}/pem`).value(cert);
    await waitFor(() => readOr(path.join(cfg, 'out/cert.pem')) === cert, 'the PEM certificate, byte for byte');
  } finally {
    await agent.stop();
  }
});

test('the one-line VCL injection passes varnishd -C but never reaches the varnish example with its values rules', async () => {
  const p = uniquePrefix('vcl');
  await seedExamples(shared.client, p);
  const guarded = examples();
  const unguarded = examples({ varnish: (t) => delete t.values });
  for (const cfg of [guarded, unguarded]) {
    const res = await runCli(['-c', cfg, '--port', port(), '-p', p, '--onetime']);
    assert.equal(res.code, 0, res.stdout + res.stderr);
  }
  const before = readFileSync(path.join(guarded, 'out/backends.vcl'), 'utf8');
  // Closes the string and the backend, adds a vcl_recv that fails every request, and reopens a sub for the rest.
  const port_ = '1"; } sub vcl_recv { return (synth(500)); } sub vcl_fini { #';
  await shared.client.put(`${p}/services/cache/backends/c1`).value(JSON.stringify({ host: '10.0.1.1', port: port_ }));
  const open = await runCli(['-c', unguarded, '--port', port(), '-p', p, '--onetime']);
  assert.equal(open.code, 0, `varnishd -C accepts the injected VCL: ${open.stdout}${open.stderr}`);
  assert.match(readFileSync(path.join(unguarded, 'out/backends.vcl'), 'utf8'), /sub vcl_recv \{ return \(synth\(500\)\); \}/);
  const res = await runCli(['-c', guarded, '--port', port(), '-p', p, '--onetime']);
  assert.equal(res.code, 1);
  assert.match(res.stdout, /varnish .* FAILED at hold: target varnish: key \/services\/cache\/backends\/c1: the value breaks values\[0\] \(keys "backends\/\*"\): value\/port must be integer/);
  assert.equal(readFileSync(path.join(guarded, 'out/backends.vcl'), 'utf8'), before, 'the live VCL keeps its bytes');
});

test('values rules on the haproxy example: a hostname, an overlong value and a value outside an enum hold the target; a good one applies', async () => {
  const p = uniquePrefix('rules');
  await seedExamples(shared.client, p);
  const listen = `127.0.0.1:${await freePort()}`;
  const ipv4Port = '^([0-9]{1,3}\\.){3}[0-9]{1,3}:[0-9]{1,5}$';
  const cfg = examples({
    haproxy: (t) => {
      (t.values as Array<{ keys: string; schema: object }>)[0] = { keys: 'backends/*', schema: { type: 'string', maxLength: 21, pattern: ipv4Port } };
    },
  });
  const file = path.join(cfg, 'out/haproxy.cfg');
  const agent = AgentProcess.start(['-c', cfg, '--port', port(), '-p', p, '--listen', listen]);
  try {
    await agent.waitForLog((l) => l.msg.startsWith('first full apply done'), 'every example applied (varnishd -C takes a while)');
    assert.match(readOr(file), /server web1 10\.0\.0\.1:80 check/);
    const good = readOr(file);
    const held = (what: RegExp): Promise<LogLine> => agent.waitForLog((l) => l.target === 'haproxy' && l.stage === 'hold' && what.test(String(l.err)), String(what));
    await shared.client.put(`${p}/services/web/backends/web1`).value('web1.example:80');
    await held(/^key \/services\/web\/backends\/web1: the value breaks values\[0\] \(keys "backends\/\*"\): value must match pattern/);
    const health = await get(`http://${listen}/healthz`);
    assert.equal(health.status, 200, `a held target is held on purpose, not unhealthy: ${health.body}`);
    assert.equal(metric((await get(`http://${listen}/metrics`)).body, 'reconfig_target_held{target="haproxy"}'), 1);
    await shared.client.put(`${p}/services/web/backends/web1`).value(`10.0.0.1:${'8'.repeat(40)}`);
    await held(/backends\/web1: the value breaks values\[0\].*must NOT have more than 21 characters/);
    assert.equal(readOr(file), good, 'no broken value reached the file');
    await shared.client.put(`${p}/services/web/backends/web1`).value('10.0.0.2:80');
    await waitFor(() => readOr(file).includes('server web1 10.0.0.2:80 check'), 'the good backend');
    const before = readOr(file);
    await shared.client.put(`${p}/services/web/balance`).value('random-ish');
    await held(/^key \/services\/web\/balance: the value breaks values\[2\] \(keys "balance"\): value must be equal to one of the allowed values/);
    await shared.client.put(`${p}/services/web/balance`).value('leastconn');
    await waitFor(() => readOr(file).includes('balance leastconn'), 'the good balance');
    assert.equal(readOr(file), before.replace('balance roundrobin', 'balance leastconn'), 'random-ish never reached the file');
    await waitFor(async () => metric((await get(`http://${listen}/metrics`)).body, 'reconfig_target_held{target="haproxy"}') === 0, 'no longer held');
    // The file that applied passed the real haproxy -c (the example's checkcmd); check it again by hand.
    assert.equal((await runShell(`haproxy -c -q -f ${file}`)).code, 0);
  } finally {
    await agent.stop();
  }
});

async function runShell(cmd: string): Promise<{ code: number | null }> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve) => spawn('sh', ['-c', cmd], { stdio: 'ignore' }).on('exit', (code) => resolve({ code })));
}

test('a bad rule is a load error naming file and path; render --data refuses a value that breaks a rule', async () => {
  const bad = examples({ nginx: (t) => (t.values = [{ keys: 'backends/**x', schema: { type: 'string' } }, { schema: { patern: '^x' } }]) });
  const v = await runCli(['validate', '-c', bad]);
  assert.equal(v.code, 2, v.stdout + v.stderr);
  const out = v.stdout + v.stderr;
  assert.match(out, /nginx\.json: \/values\/0\/keys: "backends\/\*\*x" has \*\* inside a path segment/);
  assert.match(out, /nginx\.json: \/values\/1\/schema: strict mode: unknown keyword: "patern"/);

  const cfg = examples();
  const data = path.join(cfg, 'data.json');
  writeFileSync(data, JSON.stringify({ '/services/api/backends/api1': '10.0.2.1:9000; proxy_pass http://evil' }));
  const r = await runCli(['render', 'nginx', '-c', cfg, '--data', data]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /target nginx: key \/services\/api\/backends\/api1: the value breaks values\[0\] \(keys "backends\/\*"\): value must match pattern/);
  assert.equal(r.stdout, '');
  writeFileSync(data, JSON.stringify({ '/services/api/backends/api1': '10.0.2.1:9000' }));
  const ok = await runCli(['render', 'nginx', '-c', cfg, '--data', data]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /server 10\.0\.2\.1:9000;/);
});

/** The data `render <id> --data` needs for each example, with `port` where the example's values rule checks one. */
const PORTED: Record<string, (port: string) => Record<string, string>> = {
  haproxy: (port) => ({ '/services/web/backends/web1': `10.0.0.1:${port}` }),
  nginx: (port) => ({ '/services/api/backends/api1': `10.0.2.1:${port}` }),
  varnish: (port) => ({ '/services/cache/backends/c1': JSON.stringify({ host: '10.0.1.1', port }) }),
  pgbouncer: (port) => ({
    '/service/demo/leader': 'pg1',
    '/service/demo/members/pg1': JSON.stringify({ conn_url: `postgres://10.0.3.1:${port}/postgres`, role: 'primary', state: 'running' }),
  }),
};

test('every example\'s values rule takes ports 1 to 65535 only (render, no etcd)', async () => {
  const cfg = examples();
  cpSync(path.join(REPO, 'conf.d', 'pgbouncer.json'), path.join(cfg, 'conf.d', 'pgbouncer.json'));
  const data = path.join(cfg, 'data.json');
  for (const [id, values] of Object.entries(PORTED)) {
    for (const port of ['1', '65535', '6432']) {
      writeFileSync(data, JSON.stringify(values(port)));
      const r = await runCli(['render', id, '-c', cfg, '--data', data]);
      assert.equal(r.code, 0, `${id} port ${port}: ${r.stderr}`);
      assert.ok(r.stdout.includes(id === 'pgbouncer' ? `port=${port}` : port), `${id} port ${port}: ${r.stdout}`);
    }
    for (const port of ['0', '65536', '99999', '080']) {
      writeFileSync(data, JSON.stringify(values(port)));
      const r = await runCli(['render', id, '-c', cfg, '--data', data]);
      assert.equal(r.code, 1, `${id} port ${port} was not held: ${r.stdout}`);
      assert.match(r.stderr, new RegExp(`target ${id}: key \\S+: the value breaks values\\[0\\]`), `${id} port ${port}`);
      assert.equal(r.stdout, '');
    }
  }
});

test('a port of 99999, as a new user tried: the haproxy example holds it; without the rule haproxy -c refuses it and says why', async () => {
  const p = uniquePrefix('port');
  await seedExamples(shared.client, p);
  const guarded = examples();
  const open = examples({ haproxy: (t) => delete t.values });
  const live = (cfg: string): string => path.join(cfg, 'out/haproxy.cfg');
  for (const cfg of [guarded, open]) {
    const first = await runCli(['-c', cfg, '--port', port(), '-p', p, '--onetime']);
    assert.equal(first.code, 0, first.stdout + first.stderr);
  }
  const good = readFileSync(live(open), 'utf8');
  await shared.client.put(`${p}/services/web/backends/web1`).value('10.0.0.1:99999');

  const held = await runCli(['-c', guarded, '--port', port(), '-p', p, '--onetime']);
  assert.equal(held.code, 1);
  assert.match(held.stdout, /haproxy .* FAILED at hold: target haproxy: key \/services\/web\/backends\/web1: the value breaks values\[0\]/);
  assert.equal(existsSync(`${live(guarded)}.reconfig-refused`), false, 'a held target runs no check and keeps nothing');

  const refused = await runCli(['-c', open, '--port', port(), '-p', p, '--onetime']);
  assert.equal(refused.code, 1);
  const kept = `${live(open)}.reconfig-refused`;
  // The summary line starts on haproxy's ALERT, not on the version NOTICE it prints first (the line is cut at
  // 200 characters; the log line below has the whole message).
  assert.match(refused.stdout, /haproxy .* FAILED at check: target haproxy: checkcmd `haproxy -c -f '[^']+'` exited 1: \[ALERT\]/);
  const line = refused.stderr.split('\n').find((l) => l.includes('"stage":"check"'));
  assert.ok(line, refused.stderr);
  const entry = JSON.parse(line) as { target: string; output: string; exitCode: number; err: string };
  assert.equal(entry.target, 'haproxy');
  assert.equal(entry.exitCode, 1);
  assert.match(entry.output, /\[ALERT\].*'server web\/web1' : invalid port '99999'/);
  assert.match(entry.output, /\[ALERT\].*Fatal errors found in configuration/);
  assert.match(entry.err, /exited 1: \[ALERT\].*'server web\/web1' : invalid port '99999' \(\+\d+ more line\(s\) in "output"\); the refused file is kept as /);
  assert.ok(entry.err.endsWith(`the refused file is kept as ${kept}`), entry.err);
  assert.match(readFileSync(kept, 'utf8'), /server web1 10\.0\.0\.1:99999 check/);
  assert.equal(statSync(kept).mode & 0o777, 0o600);
  assert.equal(readFileSync(live(open), 'utf8'), good, 'the live file keeps its bytes');
  // What the operator does next: the same check by hand, on the kept file.
  assert.equal((await runShell(`haproxy -c -f '${kept}'`)).code, 1);
});

/**
 * TLS with client certificates against a real etcd started with --client-cert-auth, through the CLI as users
 * run it: --onetime (JSON gateway over HTTPS) and the watching daemon (gRPC over TLS).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { cert, certsDir, PASSPHRASE } from '../support/certs';
import { AgentProcess, runCli } from '../support/cli';
import { EtcdServer, uniquePrefix } from '../support/etcd';
import { LIST, makeCfgdir, readOr, waitFor } from '../support/util';

let etcd: EtcdServer;
let client: Etcd3;

before(async () => {
  etcd = await EtcdServer.start({ tls: { dir: certsDir(), clientCertAuth: true } });
  client = etcd.client();
});
after(async () => {
  client.close();
  await etcd.stop();
});

function cfg(): string {
  return makeCfgdir({ app: { id: 'app', source: 'list.ejs', target: 'out/app.conf', key: '/app', recursive: true } }, { 'list.ejs': LIST });
}

const tlsArgs = (key = 'client.key', ca = 'ca.pem', crt = 'client.pem'): string[] => [
  '--ssl',
  '--ssl_cafile', cert(ca),
  '--ssl_cert', cert(crt),
  '--ssl_key', cert(key),
];

test('TLS with a client certificate: --onetime reads over HTTPS and writes the file', async () => {
  const p = uniquePrefix('tls');
  await client.put(`${p}/app/a`).value('1');
  const dir = cfg();
  const res = await runCli(['-c', dir, '--port', String(etcd.clientPort), '-p', p, '--onetime', ...tlsArgs()]);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(readFileSync(path.join(dir, 'out/app.conf'), 'utf8'), '/app/a=1\n');
});

test('TLS with an encrypted key: the daemon decrypts it with the passphrase and follows changes', async () => {
  const p = uniquePrefix('tlsenc');
  await client.put(`${p}/app/a`).value('1');
  const dir = cfg();
  // The passphrase from the environment, as a unit file would give it; the flag works the same way.
  const agent = AgentProcess.start(['-c', dir, '--endpoints', etcd.url, '-p', p, ...tlsArgs('client-enc.key')], {
    RECONFIG_SSL_PASSPHRASE: PASSPHRASE,
  });
  try {
    const out = path.join(dir, 'out/app.conf');
    await waitFor(() => readOr(out) === '/app/a=1\n', 'first render over TLS');
    await client.put(`${p}/app/b`).value('2');
    await waitFor(() => readOr(out) === '/app/a=1\n/app/b=2\n', 'a change over TLS');
    assert.ok(!agent.stderr.includes(PASSPHRASE), 'the passphrase must never be logged');
  } finally {
    await agent.stop();
  }
  const flag = await runCli(['-c', dir, '--endpoints', etcd.url, '-p', p, '--onetime', ...tlsArgs('client-enc.key'), '--ssl_passphrase', PASSPHRASE]);
  assert.equal(flag.code, 0, flag.stderr);
});

test('a wrong passphrase, or none, is a clear start-up error naming the key file', async () => {
  const dir = cfg();
  const wrong = await runCli(['-c', dir, '--port', String(etcd.clientPort), '--onetime', ...tlsArgs('client-enc.key'), '--ssl_passphrase', 'nope']);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /--ssl_key \S*client-enc\.key: cannot decrypt the key: wrong --ssl_passphrase\?/);
  assert.ok(!wrong.stderr.includes('nope'), 'the passphrase must never be printed');
  const none = await runCli(['-c', dir, '--port', String(etcd.clientPort), '--onetime', ...tlsArgs('client-enc.key')]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /the key is encrypted; give --ssl_passphrase/);
});

test('a server signed by an unknown CA is refused: exit 3 within seconds, naming the endpoint; nothing written', async () => {
  const dir = cfg();
  for (const mode of [['--onetime'], []]) {
    const res = await runCli(['-c', dir, '--endpoints', etcd.url, ...mode, ...tlsArgs('client.key', 'other-ca.pem')], { timeoutMs: 30_000 });
    assert.equal(res.code, 3, `${mode.join(' ') || 'daemon'}: ${res.stderr}`);
    assert.ok(res.stderr.includes(etcd.url), res.stderr);
    assert.match(res.stderr, /the server's certificate is not trusted \(check --ssl_cafile/);
    assert.equal(existsSync(path.join(dir, 'out/app.conf')), false);
  }
});

test('a client certificate the server does not trust is refused: exit 3, naming the endpoint', async () => {
  const dir = cfg();
  for (const mode of [['--onetime'], []]) {
    const res = await runCli(['-c', dir, '--endpoints', etcd.url, ...mode, ...tlsArgs('rogue-client.key', 'ca.pem', 'rogue-client.pem')], {
      timeoutMs: 30_000,
    });
    assert.equal(res.code, 3, `${mode.join(' ') || 'daemon'}: ${res.stderr}`);
    assert.ok(res.stderr.includes(etcd.url), res.stderr);
    assert.match(res.stderr, /the server refused our client certificate \(check --ssl_cert and --ssl_key\)/);
    assert.equal(existsSync(path.join(dir, 'out/app.conf')), false);
  }
});

test('a missing --ssl_* file is named at start-up, before anything is contacted', async () => {
  const dir = cfg();
  const missing = path.join(certsDir(), 'nope.pem');
  for (const flag of ['--ssl_cafile', '--ssl_cert']) {
    const args = tlsArgs();
    args[args.indexOf(flag) + 1] = missing;
    const res = await runCli(['-c', dir, '--port', '1', '--onetime', ...args]);
    assert.equal(res.code, 2);
    assert.ok(res.stderr.includes(`${flag} ${missing}: no such file`), res.stderr);
  }
  const noTls = await runCli(['-c', dir, '--port', '1', '--onetime', '--ssl_cafile', cert('ca.pem')]);
  assert.equal(noTls.code, 2);
  assert.match(noTls.stderr, /--ssl_cafile needs TLS: add --ssl/);
});

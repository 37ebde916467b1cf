/**
 * Each target stands alone, and readiness means what it says: a Docker target whose socket cannot be reached
 * fails on its own under --onetime and sidecar mode's first pass (the others apply); the agent is ready only
 * once every target has rendered once or failed once. And nothing to do is not success.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { AgentProcess, runCli } from '../support/cli';
import { sharedEtcd, uniquePrefix } from '../support/etcd';
import { LIST, makeCfgdir, readOr, tempDir, waitFor } from '../support/util';

const shared = sharedEtcd();
const port = (): string => String(shared.etcd.clientPort);

/** A key target `web` and a Docker target `docker` on `socket`. */
function twoTargets(socket: string): string {
  return makeCfgdir(
    {
      web: { id: 'web', source: 'list.ejs', target: 'out/web', key: '/web', recursive: true },
      docker: { id: 'docker', source: 'containers.ejs', target: 'out/docker', docker: { socket } },
    },
    { 'list.ejs': LIST, 'containers.ejs': '<%= containers.length %> container(s)\n' },
  );
}

test('--onetime: a Docker target whose socket is missing fails on its own; the key target applies; exit 1 and the reason once', async () => {
  const p = uniquePrefix('alone');
  await shared.client.put(`${p}/web/a`).value('1');
  const socket = path.join(tempDir(), 'no-such.sock');
  const cfg = twoTargets(socket);
  const r = await runCli(['-c', cfg, '--port', port(), '-p', p, '--onetime']);
  assert.equal(r.code, 1, `exit 1 (a target failed), not 70 (a bug)\n${r.stderr}`);
  assert.equal(readOr(path.join(cfg, 'out/web')), '/web/a=1\n', 'the key target applied');
  assert.equal(readOr(path.join(cfg, 'out/docker'), 'absent'), 'absent');
  assert.match(r.stdout, /^ {2}docker .* FAILED at read: .*ENOENT/m);
  assert.match(r.stdout, /^ {2}web .* changed$/m);
  assert.equal(r.stdout.split(socket).length - 1, 1, `the socket's error is said once in the summary:\n${r.stdout}`);
  assert.doesNotMatch(r.stderr, /unexpected error/);
});

test('sidecar mode: a Docker target whose socket is missing keeps the program from starting, exit 1, naming the target', async () => {
  const p = uniquePrefix('alone-sidecar');
  await shared.client.put(`${p}/web/a`).value('1');
  const socket = path.join(tempDir(), 'no-such.sock');
  const cfg = twoTargets(socket);
  const marker = path.join(tempDir(), 'started');
  const r = await runCli(['-c', cfg, '--port', port(), '-p', p, '--', 'sh', '-c', `touch ${marker}`]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /first render failed for docker; sh was not started/);
  assert.equal(readOr(marker, 'absent'), 'absent', 'the program never ran');
});

test('ready means every target rendered or failed once: not while a Docker target still waits for its first list', async () => {
  const p = uniquePrefix('ready');
  await shared.client.put(`${p}/web/a`).value('1');
  // A Docker socket that accepts and never answers: the first list hangs until the connection is dropped.
  const dir = tempDir();
  const socket = path.join(dir, 'silent.sock');
  const held = new Set<net.Socket>();
  const silent = net.createServer((c) => {
    held.add(c);
    c.on('close', () => held.delete(c));
  });
  await new Promise<void>((resolve) => silent.listen(socket, resolve));
  const cfg = twoTargets(socket);
  const agent = AgentProcess.start(['-c', cfg, '--port', port(), '-p', p]);
  try {
    await waitFor(() => readOr(path.join(cfg, 'out/web')) === '/web/a=1\n', 'the key target applied');
    // A second change applied proves the agent went past its first sync (where it used to call itself ready).
    await shared.client.put(`${p}/web/b`).value('2');
    await waitFor(() => readOr(path.join(cfg, 'out/web')) === '/web/a=1\n/web/b=2\n', 'a second change applied');
    await waitFor(() => held.size > 0, 'the agent asked the Docker socket');
    assert.equal(agent.count((l) => l.msg.startsWith('first full apply done')), 0, 'not ready while the Docker target waits');
    // The sentinel: the Docker API goes away, the list fails, the target fails once, and only then is it ready.
    for (const c of held) c.destroy();
    const ready = await agent.waitForLog((l) => l.msg === 'first full apply done; watching 2 target(s)', 'ready');
    const failure = agent.logs.findIndex((l) => l.target === 'docker' && l.stage === 'read');
    assert.ok(failure >= 0 && failure < agent.logs.indexOf(ready), 'the Docker target failed before the agent was ready');
    // Ready also means watching: the watch is up before the agent says so.
    const watching = agent.logs.findIndex((l) => l.msg === 'connected; watching');
    assert.ok(watching >= 0 && watching < agent.logs.indexOf(ready), 'connected before ready');
  } finally {
    await agent.stop();
    for (const c of held) c.destroy();
    await new Promise((r) => silent.close(r));
  }
});

test('nothing to do is an error: a conf.d of only examples or confd TOML exits 2 naming the files, unless --allow-empty', async () => {
  const cfg = tempDir();
  mkdirSync(path.join(cfg, 'conf.d'));
  mkdirSync(path.join(cfg, 'templates'));
  writeFileSync(path.join(cfg, 'conf.d', 'haproxy.json.example'), '{}');
  writeFileSync(path.join(cfg, 'conf.d', 'web.toml'), '[template]\n');
  const ignored = /conf\.d: no targets: only files that are not targets \(haproxy\.json\.example, web\.toml\)/;
  for (const args of [['--onetime'], ['validate'], []]) {
    const r = await runCli([...(args[0] === 'validate' ? ['validate', '-c', cfg] : ['-c', cfg, '--port', port(), ...args])], { timeoutMs: 20_000 });
    assert.equal(r.code, 2, `${args.join(' ') || 'start-up'}: exit 2\n${r.stderr}`);
    assert.match(r.stderr, ignored, args.join(' ') || 'start-up');
  }
  const validate = await runCli(['validate', '-c', cfg, '--allow-empty']);
  assert.equal(validate.code, 0, validate.stderr);
  assert.match(validate.stdout, /0 target\(s\)/);
  const once = await runCli(['-c', cfg, '--port', port(), '--onetime', '--allow-empty']);
  assert.equal(once.code, 0, once.stderr);
  const env = await runCli(['validate', '-c', cfg], { env: { RECONFIG_ALLOW_EMPTY: 'true' } });
  assert.equal(env.code, 0, env.stderr);
});

test('a bare reconfig with no /etc/reconfig says to give -c <dir>', async () => {
  const r = await runCli(['--onetime', '--port', port()], { env: { RECONFIG_CFGDIR: path.join(tempDir(), 'absent') } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no such directory: give the configuration directory, which holds conf.d\/ and templates\/, with -c <dir>/);
});

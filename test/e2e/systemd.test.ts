/**
 * systemd: the shipped unit file passes `systemd-analyze verify`, and readiness (Type=notify) is signalled only
 * after the first full apply, received on a real Unix datagram socket as systemd would receive it.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AgentProcess } from '../support/cli';
import { sharedEtcd, uniquePrefix } from '../support/etcd';
import { LIST, makeCfgdir, tempDir, waitFor } from '../support/util';

const shared = sharedEtcd();
const REPO = path.resolve(__dirname, '..', '..', '..');

test('the unit file parses: systemd-analyze verify', async () => {
  const unit = readFileSync(path.join(REPO, 'systemd', 'reconfig.service'), 'utf8');
  assert.match(unit, /^Type=notify$/m);
  assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
  // verify checks that ExecStart's program exists: point it at this checkout.
  const local = unit.replace('ExecStart=/usr/bin/reconfig', `ExecStart=${process.execPath} ${path.join(REPO, 'dist', 'src', 'cli.js')}`);
  assert.notEqual(local, unit, 'the ExecStart line was found');
  const file = path.join(tempDir(), 'reconfig.service');
  writeFileSync(file, local);
  const res = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile('systemd-analyze', ['verify', file], (err, _out, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }));
  });
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stderr.split('\n').filter((l) => l.includes('reconfig.service')).length, 0, res.stderr);
});

test('READY=1 reaches NOTIFY_SOCKET only after the first full apply', async () => {
  const p = uniquePrefix('notify');
  await shared.client.put(`${p}/a/x`).value('1');
  const dir = tempDir();
  const socket = path.join(dir, 'notify.sock');
  // A stand-in for systemd's notification socket: prints each datagram it receives on one line.
  const listener = spawn('python3', [
    '-u',
    '-c',
    'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("listening")\nwhile True:\n  print(s.recv(4096).decode().replace("\\n"," "))',
    socket,
  ]);
  let received = '';
  listener.stdout.on('data', (c: Buffer) => (received += c.toString()));
  await waitFor(() => received.includes('listening'), 'the socket');
  // The check takes a while, so that "ready" before the apply would be caught.
  const cfg = makeCfgdir({ a: { id: 'a', source: 'list.ejs', target: 'out/a', key: '/a', recursive: true, checkcmd: 'sleep 1' } }, { 'list.ejs': LIST });
  const out = path.join(cfg, 'out/a');
  const agent = AgentProcess.start(['-c', cfg, '--port', String(shared.etcd.clientPort), '-p', p], { NOTIFY_SOCKET: socket });
  try {
    let fileWhenReady: boolean | undefined;
    await waitFor(() => {
      if (received.includes('READY=1')) fileWhenReady ??= existsSync(out);
      return received.includes('READY=1');
    }, 'READY=1', 30_000);
    assert.equal(fileWhenReady, true, 'the target was written before readiness was signalled');
    assert.match(received, new RegExp(`MAINPID=${agent.child.pid}`));
    assert.match(received, /STATUS=watching 1 target\(s\)/);
  } finally {
    await agent.stop();
    listener.kill();
  }
});

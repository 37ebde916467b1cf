/**
 * A valid but wrong change is rolled back on its own: haproxy in master-worker mode in front of live backends,
 * a verify that curls through haproxy, and every backend moved to a port where nothing listens. `haproxy -c`
 * passes it, it is applied and reloaded, the verify fails, and the old file comes back byte for byte and is
 * reloaded; haproxy serves again; the same data causes no second reload; the next good change applies. A load
 * loop through haproxy meanwhile reports (does not assert) how many requests failed and for how long.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AgentProcess } from '../support/cli';
import { freePort, sharedEtcd, uniquePrefix } from '../support/etcd';
import { makeCfgdir, readOr, stopProcess, waitFor } from '../support/util';

const shared = sharedEtcd();
const haveTools = spawnSync('sh', ['-c', 'command -v haproxy && command -v curl']).status === 0;

const TEMPLATE = `global
    maxconn 100
defaults
    mode http
    timeout connect 500ms
    timeout client 5s
    timeout server 5s
frontend web
    bind 127.0.0.1:<%= get('/lb/port') %>
    default_backend app
backend app
<% for (const b of children('/lb/backends')) { -%>
    server <%= b.name %> <%= b.value %>
<% } -%>
`;

async function backend(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => res.end('ok\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { port, close: () => new Promise((r) => server.close(() => r())) };
}

test('a valid but wrong change (every backend on a dead port) is verified, rolled back and reloaded; haproxy serves again', { skip: !haveTools && 'needs haproxy and curl' }, async () => {
  const p = uniquePrefix('rollback');
  const [b1, b2] = await Promise.all([backend(), backend()]);
  const front = await freePort();
  const dead = await freePort();
  await shared.client.put(`${p}/lb/port`).value(String(front));
  await shared.client.put(`${p}/lb/backends/web1`).value(`127.0.0.1:${b1.port}`);
  await shared.client.put(`${p}/lb/backends/web2`).value(`127.0.0.1:${b2.port}`);
  const cfg = makeCfgdir({}, { 'haproxy.ejs': TEMPLATE });
  const conf = path.join(cfg, 'out', 'haproxy.cfg');
  const pid = path.join(cfg, 'haproxy.pid');
  const reloads = path.join(cfg, 'reloads');
  makeCfgdir(
    {
      lb: {
        id: 'lb',
        source: 'haproxy.ejs',
        target: 'out/haproxy.cfg',
        key: '/lb',
        recursive: true,
        checkcmd: 'haproxy -c -f {{src}}',
        // SIGUSR2 to haproxy's master is asynchronous: the old worker serves until the new one is up. The verify
        // runs when the reload returns, so the reload waits a moment for the new worker (see docs/configuration.md).
        reloadcmd: `echo reload >> ${reloads}; kill -USR2 "$(cat ${pid})" && sleep 1`,
        verify: { cmd: `curl -fsS -m 1 http://127.0.0.1:${front}/`, within: '3s', every: '200ms' },
      },
    },
    {},
    cfg,
  );
  // haproxy runs first, on the file the first render will give (so that render changes nothing): a first render
  // is verified like any other, and with no haproxy yet it would be rolled back to no file at all.
  const render = (servers: Array<[string, number]>): string =>
    TEMPLATE.replace("<%= get('/lb/port') %>", String(front)).replace(/<% for[\s\S]*<% } -%>\n/, servers.map(([n, port]) => `    server ${n} 127.0.0.1:${port}\n`).join(''));
  mkdirSync(path.dirname(conf), { recursive: true });
  writeFileSync(conf, render([['web1', b1.port], ['web2', b2.port]]));
  let haproxy: ChildProcess | undefined = spawn('haproxy', ['-W', '-f', conf, '-p', pid], { stdio: ['ignore', 'ignore', 'pipe'] });
  let haproxyErr = '';
  haproxy.stderr?.on('data', (c: Buffer) => (haproxyErr += c.toString()));
  const agent = AgentProcess.start(['-c', cfg, '--port', String(shared.etcd.clientPort), '-p', p]);
  let loading = true;
  const failures: number[] = [];
  let requests = 0;
  try {
    await agent.waitForLog((l) => l.msg.startsWith('first full apply done'), 'ready');
    assert.equal(readOr(reloads), '', 'the first render matched the file: no reload');
    // In-process, not curl: a blocking spawnSync would keep this process's backends from answering.
    const get = (): Promise<boolean> =>
      new Promise<boolean>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port: front, path: '/', timeout: 1000 }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        });
        req.on('error', () => resolve(false));
        req.on('timeout', () => req.destroy());
      });
    await waitFor(() => get(), 'haproxy serving').catch((err: Error) => {
      throw new Error(`${err.message}\n${haproxyErr}`);
    });
    const good = readOr(conf);
    // A load loop through haproxy while the bad change comes and goes: reported, not asserted.
    const load = (async () => {
      while (loading) {
        requests += 1;
        const ok = await get();
        if (!ok) failures.push(Date.now());
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    // Every backend to a port where nothing listens: a valid config, and a wrong one.
    const txn = await shared.client
      .if(`${p}/lb/port`, 'Value', '==', String(front))
      .then(shared.client.put(`${p}/lb/backends/web1`).value(`127.0.0.1:${dead}`), shared.client.put(`${p}/lb/backends/web2`).value(`127.0.0.1:${dead}`))
      .commit();
    assert.ok(txn.succeeded, 'both backends moved in one transaction');
    const rolled = await agent.waitForLog((l) => l.msg === 'verify failed; rolled back to the previous files', 'the rollback', 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${spawnSync('ps', ['-eo', 'pid,ppid,etime,args']).stdout.toString().split('\n').filter((l) => /haproxy|curl|reconfig|cli.js/.test(l)).join('\n')}`);
    });
    assert.equal(rolled.stage, 'verify');
    assert.equal(readOr(conf), good, 'the old file is back, byte for byte');
    assert.deepEqual(readOr(reloads).split('\n').filter(Boolean).length, 2, 'the bad file, then the old file again');
    await waitFor(() => get(), 'haproxy serving again');

    // The same data again (another key touched, same render): no second reload.
    await shared.client.put(`${p}/other`).value('x');
    // A sentinel: a good change applies after it, so the refused render was skipped, not merely pending.
    await shared.client.put(`${p}/lb/backends/web1`).value(`127.0.0.1:${b1.port}`);
    await waitFor(() => readOr(conf).includes(`server web1 127.0.0.1:${b1.port}`) && readOr(conf).includes(`server web2 127.0.0.1:${dead}`), 'the next change applied');
    await agent.waitForLog((l) => l.msg === 'applied' && (l.revision as number) > (rolled.revision as number), 'its apply');
    assert.equal(readOr(reloads).split('\n').filter(Boolean).length, 3, 'one reload for the next change, none for the refused one again');
    loading = false;
    await load;
    const span = failures.length ? failures[failures.length - 1] - failures[0] : 0;
    process.stdout.write(`# load through haproxy: ${failures.length} of ${requests} requests failed, over ${span} ms\n`);
  } finally {
    loading = false;
    await agent.stop();
    if (haproxy) await stopProcess(haproxy, 'SIGTERM', 3000);
    haproxy = undefined;
    await Promise.all([b1.close(), b2.close()]);
  }
});

/**
 * Docker containers as data, against a real Docker Engine API (podman's compatible service): containers
 * started and stopped while the agent runs, label filters, and a container signalled after a change.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ApiProxy } from '../support/api-proxy';
import { AgentProcess, runCli } from '../support/cli';
import { freePort, sharedEtcd, uniquePrefix } from '../support/etcd';
import { Podman } from '../support/podman';
import { makeCfgdir, readOr, waitFor } from '../support/util';

const shared = sharedEtcd();
let podman: Podman;

before(async () => {
  podman = await Podman.start();
});
after(() => podman.stop());

const LIST = '<% for (const c of containers) { %><%= c.name %> ip=<%= c.ip %> port=<%= c.port %> color=<%= c.env.COLOR %> app=<%= c.labels.app %> short=<%= c.shortId.length %>\n<% } %>';

test('containers are template data: filtered by label, and followed as they start and stop', async () => {
  const cfg = makeCfgdir({ web: { id: 'web', source: 'web.ejs', target: 'out/web', docker: { socket: podman.socket, filters: { label: ['app=web'] } } } }, { 'web.ejs': LIST });
  const out = path.join(cfg, 'out/web');
  await podman.run('web1', { labels: { app: 'web' }, env: { COLOR: 'blue' }, ports: [`${await freePort()}:80`] });
  await podman.run('other', { labels: { app: 'db' } });
  const agent = AgentProcess.start(['-c', cfg, '--port', String(shared.etcd.clientPort)]);
  try {
    await waitFor(() => /^web1 ip=10\.\d+\.\d+\.\d+ port=80 color=blue app=web short=12$/m.test(readOr(out)), 'web1 in the file');
    assert.ok(!readOr(out).includes('other'), 'the label filter leaves other out');
    await podman.run('web2', { labels: { app: 'web' }, env: { COLOR: 'green' } });
    await waitFor(() => readOr(out).includes('web2 ip='), 'web2 after it started', 30_000);
    await podman.podman(['stop', '-t', '0', 'web1']);
    await waitFor(() => !readOr(out).includes('web1') && readOr(out).includes('web2'), 'web1 gone after it stopped', 30_000);
    const once = await runCli(['-c', cfg, '--port', String(shared.etcd.clientPort), '--onetime']);
    assert.equal(once.code, 0, once.stderr);
    assert.match(once.stdout, /1 unchanged/);
  } finally {
    await agent.stop();
    await podman.podman(['rm', '-f', '-t', '0', 'web1', 'web2', 'other']).catch(() => '');
  }
});

test('a container matched by name is signalled after the file changed', async () => {
  const p = uniquePrefix('notify');
  await shared.client.put(`${p}/app/x`).value('1');
  await podman.run('sig', { cmd: "trap 'echo got-HUP' HUP; while :; do sleep 1 & wait $!; done" });
  const cfg = makeCfgdir(
    {
      app: {
        id: 'app', source: 'app.ejs', target: 'out/app', key: '/app', recursive: true,
        notify: { socket: podman.socket, filters: { name: ['sig'] }, signal: 'SIGHUP' },
      },
    },
    { 'app.ejs': 'x=<%= get("/app/x") %>\n' },
  );
  const agent = AgentProcess.start(['-c', cfg, '--port', String(shared.etcd.clientPort), '-p', p]);
  try {
    await waitFor(() => readOr(path.join(cfg, 'out/app')) === 'x=1\n', 'the first render');
    await waitFor(async () => (await podman.podman(['logs', 'sig'])).includes('got-HUP'), 'the first signal', 30_000);
    const before = (await podman.podman(['logs', 'sig'])).split('got-HUP').length;
    await shared.client.put(`${p}/app/x`).value('2');
    await waitFor(async () => (await podman.podman(['logs', 'sig'])).split('got-HUP').length > before, 'a signal after the change', 30_000);
    assert.ok(agent.logs.some((l) => l.msg === 'applied' && l.reloaded === true), 'the notify counts as the reload');
  } finally {
    await agent.stop();
    await podman.podman(['rm', '-f', '-t', '0', 'sig']).catch(() => '');
  }
});

test('a broken event stream is reopened, and what changed meanwhile is picked up', async () => {
  const cfg = makeCfgdir({ web: { id: 'web', source: 'web.ejs', target: 'out/web', docker: { socket: podman.socket, filters: { label: ['app=api'] } } } }, { 'web.ejs': LIST });
  const out = path.join(cfg, 'out/web');
  await podman.run('api1', { labels: { app: 'api' } });
  const agent = AgentProcess.start(['-c', cfg, '--port', String(shared.etcd.clientPort)]);
  try {
    await waitFor(() => readOr(out).includes('api1 ip='), 'api1 in the file');
    await podman.killService();
    await agent.waitForLog((l) => /^Docker API on .*; retrying$/.test(l.msg), 'the break logged');
    await podman.run('api2', { labels: { app: 'api' } }); // while no API is there to tell anyone
    await podman.restartService();
    await waitFor(() => readOr(out).includes('api2 ip='), 'api2 after the stream was reopened', 30_000);
    assert.equal(agent.count((l) => /^Docker API on .*; retrying$/.test(l.msg)), 1, 'the outage is logged once');
    await agent.waitForLog((l) => l.msg === 'Docker event stream reopened', 'the reconnect logged');
  } finally {
    await agent.stop();
    await podman.podman(['rm', '-f', '-t', '0', 'api1', 'api2']).catch(() => '');
  }
});

test('a list the engine refuses is retried, logged once, and leaves no event stream behind', async () => {
  const proxy = await ApiProxy.start(podman.socket);
  // A typo in a filter's name: podman refuses every list (500, "lable is an invalid filter") while its event
  // stream works, so each retry opens a stream and then fails its list.
  const cfg = makeCfgdir({ web: { id: 'web', source: 'web.ejs', target: 'out/web', docker: { socket: proxy.socket, filters: { lable: ['app=web'] } } } }, { 'web.ejs': LIST });
  const retrying = (l: { msg: string }): boolean => /^Docker API on .*invalid filter.*; retrying$/.test(l.msg);
  const agent = AgentProcess.start(['-c', cfg, '--port', String(shared.etcd.clientPort)]);
  try {
    await agent.waitForLog(retrying, 'the refused list logged');
    // The sentinel: the agent has reopened its event stream five times since the first refusal.
    await waitFor(() => proxy.requests('/events') >= 6, 'six event streams asked for', 60_000);
    assert.ok(proxy.open('/events') <= 1, `event streams still open after 6 tries: ${proxy.open('/events')}`);
    assert.ok(proxy.requests('/containers/json') >= 5, 'each try listed');
    assert.equal(agent.count(retrying), 1, 'the refusal is logged once, not once per try');
    assert.equal(agent.count((l) => l.msg === 'Docker event stream reopened'), 0, 'nothing recovered');
  } finally {
    await agent.stop();
    await proxy.stop();
  }
});

test('notify can restart the matching containers instead of signalling them', async () => {
  const p = uniquePrefix('restart');
  await shared.client.put(`${p}/app/x`).value('1');
  await podman.run('rs', { labels: { role: 'restart-me' }, cmd: 'echo started; while :; do sleep 1; done' });
  const cfg = makeCfgdir(
    { app: { id: 'app', source: 'app.ejs', target: 'out/app', key: '/app', recursive: true, notify: { socket: podman.socket, filters: { label: ['role=restart-me'] }, restart: true } } },
    { 'app.ejs': 'x=<%= get("/app/x") %>\n' },
  );
  const starts = async (): Promise<number> => (await podman.podman(['logs', 'rs'])).split('started').length - 1;
  const agent = AgentProcess.start(['-c', cfg, '--port', String(shared.etcd.clientPort), '-p', p]);
  try {
    await waitFor(() => readOr(path.join(cfg, 'out/app')) === 'x=1\n', 'the first render');
    await waitFor(async () => (await starts()) >= 2, 'a restart after the first render', 30_000);
    const before = await starts();
    await shared.client.put(`${p}/app/x`).value('2');
    await waitFor(async () => (await starts()) > before, 'a restart after the change', 30_000);
  } finally {
    await agent.stop();
    await podman.podman(['rm', '-f', '-t', '0', 'rs']).catch(() => '');
  }
});

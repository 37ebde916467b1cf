/** The fleet view: agents keep a report on a lease (--report), and `reconfig fleet` reads it and waits for a revision. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { startAgent } from '../support/agent';
import { AgentProcess, runCli } from '../support/cli';
import { etcdBinary } from '../../scripts/etcd-binary';
import { freePort, sharedEtcd, uniquePrefix } from '../support/etcd';
import { LIST, makeCfgdir, readOr, sleep, stopProcess, waitFor } from '../support/util';

const shared = sharedEtcd();
const port = (): string => String(shared.etcd.clientPort);

/** One host: its own cfgdir with target `app` on /app, optionally refusing values that contain "bad". */
function host(p: string, name: string, picky = false): { agent: AgentProcess; dest: string } {
  const cfg = makeCfgdir(
    { app: { id: 'app', source: 'list.ejs', target: 'out/app', key: '/app', recursive: true, ...(picky ? { checkcmd: "if grep -q bad {{src}}; then echo 'refusing bad'; exit 3; fi" } : {}) } },
    { 'list.ejs': LIST },
  );
  const agent = AgentProcess.start(['-c', cfg, '--port', port(), '-p', p, '--report', `${p}-fleet`, '--report-name', name]);
  return { agent, dest: path.join(cfg, 'out/app') };
}

interface Report {
  name: string;
  version: string;
  targets: Record<string, { revision: number; state: string; stage?: string; sha256?: string }>;
}

async function report(p: string, name: string): Promise<Report | undefined> {
  const v = await shared.client.get(`${p}-fleet/${name}`).string();
  return v === null ? undefined : (JSON.parse(v) as Report);
}

test('agents report on a lease; fleet lists them and waits for a revision, naming laggards and failures', async () => {
  const p = uniquePrefix('fleet');
  await shared.client.put(`${p}/app/a`).value('secret-value-1');
  const h1 = host(p, 'h1');
  const h2 = host(p, 'h2', true);
  try {
    await waitFor(async () => (await report(p, 'h1'))?.targets.app?.state === 'ok' && (await report(p, 'h2'))?.targets.app?.state === 'ok', 'both reports');
    const r1 = (await report(p, 'h1'))!;
    assert.equal(r1.version, (JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version);
    assert.equal(r1.targets.app.sha256, createHash('sha256').update(readOr(h1.dest)).digest('hex'));
    const raw = await shared.client.get(`${p}-fleet/h1`).exec();
    assert.notEqual(String(raw.kvs[0].lease), '0', 'the key is on a lease');
    for (const name of ['h1', 'h2']) assert.ok(!(await shared.client.get(`${p}-fleet/${name}`).string())!.includes('secret-value-1'), 'no data value in a report');

    const table = await runCli(['--port', port(), 'fleet', '--report', `${p}-fleet`]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^HOST +TARGET +REVISION +STATE +AGE$/m);
    assert.match(table.stdout, /^h1 +app +\d+ +ok +\d+s$/m);
    const json = await runCli(['fleet', '--port', port(), '--report', `${p}-fleet`, '--json']);
    assert.deepEqual((JSON.parse(json.stdout) as Report[]).map((r) => r.name), ['h1', 'h2']);

    // A change both apply: the wait ends with exit 0.
    const rev = Number((await shared.client.put(`${p}/app/b`).value('2')).header.revision);
    const ok = await runCli(['fleet', '--port', port(), '--report', `${p}-fleet`, '--wait-revision', String(rev), '--timeout', '20s']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, new RegExp(`every host \\(2\\) has taken revision ${rev}`));

    // A change h2's check refuses: h1 takes it, h2 is named as behind and failing.
    const bad = Number((await shared.client.put(`${p}/app/c`).value('bad')).header.revision);
    await waitFor(async () => (await report(p, 'h2'))?.targets.app?.state === 'failed', 'h2 to report the failure');
    const late = await runCli(['fleet', '--port', port(), '--report', `${p}-fleet`, '--wait-revision', String(bad), '--timeout', '2s']);
    assert.equal(late.code, 1, late.stdout + late.stderr);
    assert.match(late.stderr, /^behind: h2\/app at revision \d+$/m);
    assert.match(late.stderr, /^failing: h2\/app failed at check: .*exited 3: refusing bad/m);
    assert.doesNotMatch(late.stderr, /h1\/app/);
    // --target narrows what counts: naming no target of theirs, every host is up to date.
    const other = await runCli(['fleet', '--port', port(), '--report', `${p}-fleet`, '--wait-revision', String(bad), '--timeout', '2s', '--target', 'nothing']);
    assert.equal(other.code, 0, other.stderr);

    // A stopped agent revokes its lease: its key goes at once, not after the TTL.
    await h1.agent.stop();
    await waitFor(async () => (await report(p, 'h1')) === undefined, 'h1 key gone', 5000);
  } finally {
    await h1.agent.stop();
    await h2.agent.stop();
  }
});

test('report writes stay at or under one per second, however many applies', async () => {
  const p = uniquePrefix('fleetrate');
  await shared.client.put(`${p}/app/k`).value('0');
  const h = host(p, 'busy');
  try {
    await waitFor(async () => (await report(p, 'busy'))?.targets.app?.state === 'ok', 'the first report');
    const before = Number((await shared.client.get(`${p}-fleet/busy`).exec()).kvs[0].version);
    const started = Date.now();
    for (let i = 1; i <= 40; i++) {
      await shared.client.put(`${p}/app/k`).value(String(i));
      await sleep(50);
    }
    await waitFor(() => readOr(h.dest) === `/app/k=40\n`, 'the last value');
    await sleep(1500);
    const writes = Number((await shared.client.get(`${p}-fleet/busy`).exec()).kvs[0].version) - before;
    const seconds = (Date.now() - started) / 1000;
    assert.ok(writes >= 1, 'the report followed the changes');
    assert.ok(writes <= Math.ceil(seconds) + 1, `${writes} report writes in ${seconds.toFixed(1)} s`);
  } finally {
    await h.agent.stop();
  }
});

test('bad fleet input is a usage error: --wait-revision without --report, a prefix without /, --report with --onetime', async () => {
  const noReport = await runCli(['fleet', '--port', port(), '--wait-revision', '5']);
  assert.equal(noReport.code, 2);
  assert.match(noReport.stderr, /--wait-revision needs --report <prefix>/);
  const noSlash = await runCli(['fleet', '--report', 'fleet']);
  assert.equal(noSlash.code, 2);
  assert.match(noSlash.stderr, /must begin with \//);
  const agentNoSlash = await runCli(['--report', 'fleet', '--onetime']);
  assert.equal(agentNoSlash.code, 2);
  const cfg = makeCfgdir({ a: { id: 'a', source: 'list.ejs', target: 'out/a', key: '/a' } }, { 'list.ejs': LIST });
  const once = await runCli(['-c', cfg, '--port', port(), '--report', '/fleet', '--onetime']);
  assert.equal(once.code, 2);
  assert.match(once.stderr, /--report keeps a running agent's report/);
});

test('through etcd grpc-proxy: an agent follows changes, and --onetime reads (falling back to gRPC if need be)', async () => {
  const p = uniquePrefix('proxy');
  await shared.client.put(`${p}/app/a`).value('1');
  const listen = `127.0.0.1:${await freePort()}`;
  const proxy = AgentProcess.startRaw(etcdBinary(), ['grpc-proxy', 'start', `--endpoints=${shared.etcd.url}`, `--listen-addr=${listen}`]);
  const cfg = makeCfgdir({ app: { id: 'app', source: 'list.ejs', target: 'out/app', key: '/app', recursive: true } }, { 'list.ejs': LIST });
  const dest = path.join(cfg, 'out/app');
  let agent: AgentProcess | undefined;
  try {
    await waitFor(async () => (await runCli(['-c', cfg, '--endpoints', `http://${listen}`, '-p', p, '--onetime'])).code === 0, 'an --onetime read through the proxy');
    assert.equal(readOr(dest), '/app/a=1\n');
    agent = AgentProcess.start(['-c', cfg, '--endpoints', `http://${listen}`, '-p', p]);
    await agent.waitForLog((l) => l.msg.startsWith('first full apply done'), 'the agent through the proxy');
    await shared.client.put(`${p}/app/b`).value('2');
    await waitFor(() => readOr(dest) === '/app/a=1\n/app/b=2\n', 'a change through the proxy');
  } finally {
    await agent?.stop();
    await stopProcess(proxy.child);
  }
});

test('through etcd grpc-proxy: three agents with the same target are one watch in etcd; the proxy killed and restarted, they resume', async () => {
  const p = uniquePrefix('coalesce');
  await shared.client.put(`${p}/app/a`).value('1');
  const listen = `127.0.0.1:${await freePort()}`;
  const startProxy = (): AgentProcess =>
    AgentProcess.startRaw(etcdBinary(), ['grpc-proxy', 'start', `--endpoints=${shared.etcd.url}`, `--listen-addr=${listen}`]);
  let proxy = startProxy();
  const cost = async (): Promise<[number, number]> => [
    await shared.etcd.metric('etcd_debugging_mvcc_watch_stream_total'),
    await shared.etcd.metric('etcd_debugging_mvcc_watcher_total'),
  ];
  const agents: Array<ReturnType<typeof startAgent>> = [];
  const dests: string[] = [];
  try {
    const start = (): void => {
      const cfg = makeCfgdir({ app: { id: 'app', source: 'list.ejs', target: 'out/app', key: '/app', recursive: true } }, { 'list.ejs': LIST });
      agents.push(startAgent({ cfgdir: cfg, endpoint: `http://${listen}`, prefix: p }));
      dests.push(path.join(cfg, 'out/app'));
    };
    const allHold = (text: string, what: string): Promise<boolean> => waitFor(() => dests.every((d) => readOr(d) === text), what, 30_000);
    start();
    await allHold('/app/a=1\n', 'the first agent through the proxy');
    await waitFor(() => agents[0].logs.some((l) => l.msg === 'connected; watching'), 'its watch');
    const [streams, watchers] = await cost();
    start();
    start();
    await allHold('/app/a=1\n', 'three agents through the proxy');
    await waitFor(() => agents.every((a) => a.logs.some((l) => l.msg === 'connected; watching')), 'their watches');
    assert.deepEqual(await cost(), [streams, watchers], 'two more agents with the same target cost etcd no stream and no watcher');
    // The proxy dies; a change lands while it is gone; a new proxy comes up on the same address.
    await stopProcess(proxy.child, 'SIGKILL');
    await shared.client.put(`${p}/app/b`).value('2');
    proxy = startProxy();
    await allHold('/app/a=1\n/app/b=2\n', 'the change made while the proxy was down');
    for (const a of agents) {
      await waitFor(() => a.logs.some((l) => /^reconnected; resumed the watch from revision \d+, reading nothing again$/.test(l.msg)), 'a resume');
      assert.ok(!a.logs.some((l) => /resynced at revision/.test(l.msg)), 'no agent read its keys again');
    }
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await stopProcess(proxy.child);
  }
});

test('--wait-revision retries a read that fails on the way (etcd not listening yet) until --timeout, and says what it retried', async () => {
  const p = uniquePrefix('fleet-retry');
  await shared.client.put(`${p}/app/a`).value('1');
  const h1 = host(p, 'h1');
  // The fleet command talks to a port where, at first, nothing listens: a member restarting.
  const gap = await freePort();
  let forwarder: net.Server | undefined;
  const wait = AgentProcess.start(['fleet', '--port', String(gap), '--report', `${p}-fleet`, '--wait-revision', '1', '--timeout', '30s']);
  try {
    await waitFor(() => wait.stderr.includes('retrying until the time-out'), 'a failed read, retried');
    assert.equal(wait.child.exitCode, null, 'a transient read error does not end the wait');
    forwarder = net.createServer((c) => {
      const up = net.connect(shared.etcd.clientPort, '127.0.0.1');
      c.pipe(up).pipe(c);
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
    });
    await new Promise<void>((r) => forwarder!.listen(gap, '127.0.0.1', r));
    const { code } = await wait.exited;
    assert.equal(code, 0, wait.stderr);
    assert.match(wait.stdout, /every host \(1\) has taken revision 1/);
    assert.match(wait.stderr, /^reading the reports failed, retrying until the time-out: .*127\.0\.0\.1:\d+/m);
  } finally {
    await wait.stop();
    await h1.agent.stop();
    forwarder?.close();
  }
});

test('reconfig_fleet_report_in_sync: 1 once the report is written, 0 while etcd refuses it, 1 again after', async () => {
  const { EtcdServer } = await import('../support/etcd');
  const { get, metric } = await import('../support/http');
  const own = await EtcdServer.start();
  const listen = await freePort();
  const cfg = makeCfgdir({ web: { id: 'web', source: 'list.ejs', target: 'out/web', key: '/web', recursive: true } }, { 'list.ejs': LIST });
  const agent = AgentProcess.start(['-c', cfg, '--endpoints', own.url, '--listen', `127.0.0.1:${listen}`, '--report', '/fleet-sync', '--report-name', 'h1']);
  const inSync = async (): Promise<number | undefined> => metric((await get(`http://127.0.0.1:${listen}/metrics`)).body, 'reconfig_fleet_report_in_sync');
  try {
    await waitFor(async () => (await inSync()) === 1, 'the report written');
    await own.kill9();
    await waitFor(async () => (await inSync()) === 0, 'the report no longer current while etcd is down', 60_000);
    await own.restart();
    await waitFor(async () => (await inSync()) === 1, 'the report current again', 60_000);
    const c = own.client();
    try {
      assert.equal((await c.get('/fleet-sync/h1').json()) !== null, true, 'the report key is back');
    } finally {
      c.close();
    }
  } finally {
    await agent.stop();
    await own.stop();
  }
});

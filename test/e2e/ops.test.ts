/** --listen: /metrics and /healthz of a running agent, through a check failure, a minkeys hold and an etcd outage. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { get, metric } from '../support/http';
import { AgentProcess, runCli } from '../support/cli';
import { EtcdServer, freePort } from '../support/etcd';
import { LIST, makeCfgdir, waitFor } from '../support/util';

test('/metrics and /healthz follow applies, a failing check, a deliberate hold and an etcd outage', async () => {
  const etcd = await EtcdServer.start();
  let client = etcd.client();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const cfg = makeCfgdir(
    {
      a: { id: 'a', source: 'list.ejs', target: 'out/a', key: '/a', recursive: true },
      b: { id: 'b', source: 'list.ejs', target: 'out/b', key: '/b', recursive: true, checkcmd: '! grep -q bad {{src}}' },
      c: { id: 'c', source: 'list.ejs', target: 'out/c', key: '/c', recursive: true, minkeys: 2 },
    },
    { 'list.ejs': LIST },
  );
  await client.put('/a/x').value('1');
  await client.put('/b/x').value('1');
  await client.put('/c/x').value('1');
  const agent = AgentProcess.start(['-c', cfg, '--endpoints', etcd.url, '--listen', `127.0.0.1:${port}`]);
  try {
    const healthy = await waitFor(async () => {
      const r = await get(`${base}/healthz`);
      return r.status === 200 ? r : null;
    }, 'healthy');
    const h = JSON.parse(healthy.body) as { etcd: { connected: boolean }; targets: Record<string, { inSync: boolean; held: boolean }> };
    assert.equal(h.etcd.connected, true);
    assert.equal(h.targets.c.held, true, 'a target held by minkeys does not make the agent unhealthy');
    let m = (await get(`${base}/metrics`)).body;
    assert.equal(metric(m, 'reconfig_target_applies_total{target="a"}'), 1);
    assert.equal(metric(m, 'reconfig_target_in_sync{target="a"}'), 1);
    assert.equal(metric(m, 'reconfig_target_held{target="c"}'), 1);
    assert.equal(metric(m, 'reconfig_etcd_connected'), 1);
    assert.ok((metric(m, 'reconfig_watch_revision') ?? 0) >= 3);
    // The first snapshot read the three keys.
    const keysAtStart = 3;
    assert.equal(metric(m, 'reconfig_snapshot_keys_total'), keysAtStart);
    assert.ok((metric(m, 'reconfig_target_last_success_timestamp_seconds{target="a"}') ?? 0) > Date.now() / 1000 - 60);
    assert.match(m, /^reconfig_target_render_duration_seconds_count\{target="a"\} [1-9]/m);

    // A check failure: unhealthy, with the reason; the failure counted by stage.
    await client.put('/b/x').value('bad');
    const sick = await waitFor(async () => {
      const r = await get(`${base}/healthz`);
      return r.status === 503 && r.body.includes('(check: ') ? r : null;
    }, 'unhealthy after a failed check');
    assert.match(sick.body, /target b is not in sync \(check: /);
    m = (await get(`${base}/metrics`)).body;
    assert.equal(metric(m, 'reconfig_target_failures_total{target="b",stage="check"}'), 1);
    assert.equal(metric(m, 'reconfig_target_in_sync{target="b"}'), 0);
    assert.ok((metric(m, 'reconfig_watch_events_total') ?? 0) >= 1);
    await client.put('/b/x').value('good');
    await waitFor(async () => (await get(`${base}/healthz`)).status === 200, 'healthy again');

    // etcd goes away: unhealthy; it comes back: healthy, one reconnect counted.
    await etcd.kill9();
    const down = await waitFor(async () => {
      const r = await get(`${base}/healthz`);
      return r.status === 503 ? r : null;
    }, 'unhealthy while etcd is down', 40_000);
    assert.match(down.body, /not connected to etcd/);
    await etcd.restart();
    client.close();
    client = etcd.client();
    await waitFor(async () => (await get(`${base}/healthz`)).status === 200, 'healthy after etcd returned', 40_000);
    m = (await get(`${base}/metrics`)).body;
    assert.equal(metric(m, 'reconfig_etcd_reconnects_total'), 1);
    // etcd came back with its data: the watch resumed, and no key was read again.
    assert.equal(metric(m, 'reconfig_watch_resumes_total'), 1);
    assert.equal(metric(m, 'reconfig_resyncs_total'), 0);
    assert.equal(metric(m, 'reconfig_snapshot_keys_total'), keysAtStart);
  } finally {
    await agent.stop();
    client.close();
    await etcd.stop();
  }
});

test('--listen with --onetime, or a bad address, is a usage error', async () => {
  const cfg = makeCfgdir({ a: { id: 'a', source: 'list.ejs', target: 'out/a', key: '/a' } }, { 'list.ejs': LIST });
  const once = await runCli(['-c', cfg, '--onetime', '--listen', '127.0.0.1:9']);
  assert.equal(once.code, 2);
  assert.match(once.stderr, /--listen serves a running agent/);
  const bad = await runCli(['-c', cfg, '--listen', 'nine']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /give host:port, such as 127\.0\.0\.1:9100/);
});

/**
 * contrib/grafana: every expression of the dashboard is PromQL that Prometheus parses, and every metric it uses
 * exists in the /metrics of a real agent (the built CLI with --listen, against a real etcd), except the ones
 * listed as pending, which must not exist yet (so that the list is kept honest once they do).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { AgentProcess } from '../support/cli';
import { EtcdServer, freePort } from '../support/etcd';
import { get } from '../support/http';
import { LIST, makeCfgdir, waitFor } from '../support/util';
import { ROOT } from './markdown';

const DASHBOARD = path.join(ROOT, 'contrib', 'grafana', 'reconfig-dashboard.json');

/** Used by the dashboard and the alerting rules before reconfig exports them (see docs/operating.md#alerting). */
const PENDING = new Set<string>([]);

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Array<{ expr: string }>;
}
interface Dashboard {
  panels: Panel[];
  templating: { list: Array<{ name: string; query: unknown }> };
}

const dashboard = (): Dashboard => JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

/** Every PromQL expression: the panels' and the variables'. */
function expressions(d: Dashboard): string[] {
  const panels = d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  const vars = d.templating.list.flatMap((v) => (typeof v.query === 'object' && v.query !== null ? [(v.query as { query: string }).query] : []));
  return [...panels, ...vars];
}

const metricNames = (exprs: string[]): Set<string> => new Set(exprs.flatMap((e) => [...e.matchAll(/\breconfig_[a-z0-9_]+/g)].map((m) => m[0])));

/** The metric families of a Prometheus text exposition, with their types (from the # TYPE lines). */
function families(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
}

/** Whether `name` is a family, or a histogram's or summary's _bucket, _sum or _count. */
function exposed(name: string, fams: Map<string, string>): boolean {
  if (fams.has(name)) return true;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  return m !== null && ['histogram', 'summary'].includes(fams.get(m[1]) ?? '') && (m[2] !== 'bucket' || fams.get(m[1]) === 'histogram');
}

test('the dashboard is well formed: unique panel ids, one data source variable, every query on it', () => {
  const d = dashboard();
  const ids = d.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids repeat');
  assert.ok(d.templating.list.some((v) => v.name === 'datasource'));
  for (const p of d.panels.filter((x) => x.type !== 'row')) {
    assert.equal(p.datasource?.uid, '${datasource}', `${p.title}: not on the datasource variable`);
    assert.ok((p.targets ?? []).length > 0, `${p.title}: no query`);
    assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title}: wider than the grid`);
  }
});

test("promtool parses every expression of the dashboard (with $instance as '.*')", () => {
  const exprs = expressions(dashboard()).filter((e) => !e.startsWith('label_values('));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'reconfig-dashboard-'));
  try {
    const rules = { groups: [{ name: 'dashboard', rules: exprs.map((e, i) => ({ record: `dashboard:expr${i}`, expr: e.replace(/\$instance/g, '.*') })) }] };
    const file = path.join(dir, 'rules.yml');
    writeFileSync(file, stringify(rules));
    const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    assert.equal(r.error, undefined, 'promtool not found (Debian: apt-get install prometheus)');
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("every metric the dashboard uses is in a running agent's /metrics, or listed as pending and absent", async () => {
  const used = metricNames(expressions(dashboard()));
  assert.ok(used.size >= 15, `only ${used.size} metrics found in the dashboard`);
  const etcd = await EtcdServer.start();
  const client = etcd.client();
  const port = await freePort();
  const cfg = makeCfgdir({ web: { id: 'web', source: 'list.ejs', target: 'out/web', key: '/web', recursive: true } }, { 'list.ejs': LIST });
  let agent: AgentProcess | undefined;
  try {
    await client.put('/web/a').value('1');
    // With --report, so that the report's own metric is there too.
    agent = AgentProcess.start(['-c', cfg, '--endpoints', etcd.url, '--listen', `127.0.0.1:${port}`, '--report', '/fleet-dashboard']);
    await waitFor(async () => (await get(`http://127.0.0.1:${port}/healthz`)).status === 200, 'the agent to be healthy');
    const fams = families((await get(`http://127.0.0.1:${port}/metrics`)).body);
    assert.ok(fams.size > 10, 'no metrics scraped');
    const missing = [...used].filter((n) => !PENDING.has(n) && !exposed(n, fams));
    assert.deepEqual(missing, [], 'the dashboard uses metrics the agent does not export');
    for (const n of PENDING) assert.ok(!exposed(n, fams), `${n} is exported now: take it off PENDING in ${path.relative(ROOT, __filename)}`);
  } finally {
    await agent?.stop();
    client.close();
    await etcd.stop();
  }
});

/** contrib/prometheus: the rules load, and promtool's own tests of them pass, firing and not firing, each alert. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { ROOT } from './markdown';

const DIR = path.join(ROOT, 'contrib', 'prometheus');
const RULES = path.join(DIR, 'reconfig-rules.yml');
const TESTS = path.join(DIR, 'reconfig-rules.test.yml');

interface RuleFile {
  groups: Array<{ rules: Array<{ alert?: string; expr: string; for?: string }> }>;
}
interface TestFile {
  rule_files: string[];
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
}

const promtool = (...args: string[]): { status: number | null; out: string } => {
  const r = spawnSync('promtool', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`promtool ${args.join(' ')}: ${r.error.message} (Debian: apt-get install prometheus)`, { cause: r.error });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
};

test('promtool check rules accepts the rules', () => {
  const r = promtool('check', 'rules', RULES);
  assert.equal(r.status, 0, r.out);
});

test('promtool test rules passes, and every alert is tested both firing and not firing', () => {
  const r = promtool('test', 'rules', TESTS);
  assert.equal(r.status, 0, r.out);
  const alerts = (parse(readFileSync(RULES, 'utf8')) as RuleFile).groups.flatMap((g) => g.rules.flatMap((x) => (x.alert ? [x.alert] : [])));
  assert.deepEqual(alerts, ['ReconfigTargetFailing', 'ReconfigTargetHeld', 'ReconfigRollback', 'ReconfigEtcdDisconnected', 'ReconfigFleetReportStale']);
  const cases = (parse(readFileSync(TESTS, 'utf8')) as TestFile).tests.flatMap((t) => t.alert_rule_test ?? []);
  for (const a of alerts) {
    assert.ok(cases.some((c) => c.alertname === a && c.exp_alerts.length > 0), `${a} is never expected to fire`);
    assert.ok(cases.some((c) => c.alertname === a && c.exp_alerts.length === 0), `${a} is never expected to stay quiet`);
  }
});

test("the tests notice rules that fire too early: without their 'for', promtool test rules fails", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'reconfig-rules-'));
  try {
    writeFileSync(path.join(dir, 'reconfig-rules.yml'), readFileSync(RULES, 'utf8').replace(/^\s+for: .*\n/gm, ''));
    copyFileSync(TESTS, path.join(dir, 'reconfig-rules.test.yml'));
    const r = promtool('test', 'rules', path.join(dir, 'reconfig-rules.test.yml'));
    assert.notEqual(r.status, 0, 'promtool passed rules that fire at once');
    assert.match(r.out, /ReconfigTargetFailing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Start-up side by side (issue 23): `--version`, `--onetime` of 100 targets x 10 keys and the RSS of an idle
 * agent, for `node dist/src/cli.js` and for the single executable, beside `node -e ""` and, when CONFD_BIN
 * names a confd, confd in the same run. Every program's runs are interleaved with the others', so that a noisy
 * moment on a shared machine falls on all alike, and each ratio is the median of per-round ratios.
 *
 * Where --onetime's time goes, from differences between runs of the same program:
 *   start     `--version` (the process, the script, its code cache or snapshot)
 *   config    `validate` of the 100 targets less start (conf.d read and checked, templates compiled)
 *   etcd      an --onetime with every file unchanged less validate (connect, 100 reads, 100 renders, compares)
 *   writes    an --onetime writing every file less an unchanged one (stage, fsync, rename: 100 times)
 *   fsync     of which: writes on this disk less writes on tmpfs (/dev/shm), where fsync costs nothing
 * The executable is RECONFIG_E2E_BIN's, else dist/bin/reconfig-<version>-linux-x64 (npm run package:bin).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Etcd3 } from 'etcd3';
import type { EtcdServer } from '../../scripts/etcd-server';
import { version } from '../../src/version';
import { IDLE_RUNS, type IdleMemory, idleAgent, medianRun } from './footprint';
import { CLI, agentEnv, median, now, putMany, round, workDir, writeCfg } from './harness';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const TARGETS = 100;
const KEYS = 10;

interface Program {
  name: string;
  argv: string[];
}

/** The executable to measure, or null when none is built. */
export function executable(): string | null {
  const file = process.env.RECONFIG_E2E_BIN ?? path.join(ROOT, 'dist', 'bin', `reconfig-${version}-linux-x64`);
  return existsSync(file) ? path.resolve(file) : null;
}

function run(argv: string[], env: NodeJS.ProcessEnv = agentEnv): { ms: number; peakMb: number } {
  // GNU time reports the peak RSS of any program, Node or not.
  if (!existsSync('/usr/bin/time')) throw new Error('the sidebyside bench needs GNU time: apt-get install time');
  const t0 = now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', ...argv], { stdio: ['ignore', 'ignore', 'pipe'], env });
  const ms = now() - t0;
  const err = r.stderr.toString();
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${err.slice(-2000)}`);
  return { ms, peakMb: Number(err.trim().split('\n').pop()) / 1024 };
}

/** 100 reconfig targets (and as many confd resources) of 10 keys each, under `dir`. */
async function onetimeSetup(client: Etcd3, dir: string): Promise<void> {
  const ts = Array.from({ length: TARGETS }, (_, i) => {
    const id = `s${String(i).padStart(3, '0')}`;
    return { id, source: 's.ejs', target: path.join(dir, 'out', `${id}.conf`), key: `/startup/${id}`, recursive: true };
  });
  writeCfg(dir, ts, { 's.ejs': '<% for (const c of Object.entries(reconfigdata)) { %><%= c[0] %>=<%= c[1] %>\n<% } %>' });
  const confd = path.join(dir, 'confd');
  mkdirSync(path.join(confd, 'conf.d'), { recursive: true });
  mkdirSync(path.join(confd, 'templates'), { recursive: true });
  writeFileSync(path.join(confd, 'templates', 's.tmpl'), '{{range gets "/*"}}{{.Key}}={{.Value}}\n{{end}}');
  for (const t of ts) {
    writeFileSync(
      path.join(confd, 'conf.d', `${t.id}.toml`),
      `[template]\nprefix = "${t.key}"\nsrc = "s.tmpl"\ndest = "${path.join(dir, 'out-confd', `${t.id}.conf`)}"\nkeys = ["/"]\n`,
    );
  }
  const kvs: Array<[string, string]> = [];
  for (const t of ts) for (let k = 0; k < KEYS; k++) kvs.push([`${t.key}/k${k}`, `value-${k}`]);
  await putMany(client, kvs);
}

/** Interleaved rounds: in each, every program once; returns each program's samples. */
function rounds(programs: Program[], runs: number, args: (p: Program) => string[], before?: (p: Program, round: number) => void): Map<string, number[]> {
  const out = new Map<string, number[]>(programs.map((p) => [p.name, []]));
  for (let i = 0; i < runs; i++) {
    for (const p of programs) {
      before?.(p, i);
      out.get(p.name)!.push(run([...p.argv, ...args(p)]).ms);
    }
  }
  return out;
}

/** Median of per-round ratios a/b. */
function ratio(a: number[], b: number[]): number {
  return round(median(a.map((x, i) => x / b[i])), 2);
}

/** The figures, flat: `<program>_<figure>` for each program measured. */
export async function sideBySide(etcd: EtcdServer, client: Etcd3, runs: number): Promise<Record<string, number>> {
  const exe = executable();
  if (!exe) throw new Error(`no executable to measure: npm run package:bin first, or set RECONFIG_E2E_BIN`);
  const reconfigs: Program[] = [
    { name: 'dist', argv: [process.execPath, CLI] },
    { name: 'exe', argv: [exe] },
  ];
  const confdBin = process.env.CONFD_BIN;
  const result: Record<string, number> = { runs, has_confd: confdBin ? 1 : 0 };

  // --version, beside Node's own start.
  const node: Program = { name: 'node', argv: [process.execPath, '-e', ''] };
  const v = rounds([node, ...reconfigs], runs, (p) => (p.name === 'node' ? [] : ['--version']));
  result.node_ms = round(median(v.get('node')!), 1);
  for (const p of reconfigs) {
    result[`${p.name}_version_ms`] = round(median(v.get(p.name)!), 1);
    result[`${p.name}_version_vs_node`] = ratio(v.get(p.name)!, v.get('node')!);
  }

  for (const [where, root] of [['disk', undefined], ['tmpfs', existsSync('/dev/shm') ? '/dev/shm' : undefined]] as const) {
    if (where === 'tmpfs' && !root) continue;
    const dir = root ? path.join(root, `reconfig-bench-startup-${process.pid}`) : workDir('startup-onetime');
    mkdirSync(dir, { recursive: true });
    try {
      await onetimeSetup(client, dir);
      const common = ['--port', String(etcd.clientPort)];
      const programs: Program[] = [...reconfigs];
      if (confdBin) programs.push({ name: 'confd', argv: [confdBin] });
      const argsOf = (p: Program): string[] =>
        p.name === 'confd'
          ? ['-onetime', '-backend', 'etcdv3', '-node', `http://127.0.0.1:${etcd.clientPort}`, '-confdir', path.join(dir, 'confd'), '-log-level', 'error']
          : // Both log errors only: confd's info lines and reconfig's (101 for 100 targets) are left out alike.
            ['-c', dir, ...common, '--onetime', '--log-level', 'error'];
      // Every file written (out/ removed before the run), then every file unchanged.
      const written = rounds(programs, runs, argsOf, (p) => {
        rmSync(path.join(dir, p.name === 'confd' ? 'out-confd' : 'out'), { recursive: true, force: true });
        // confd does not create a missing directory (reconfig does): an empty one, so that every file is new.
        if (p.name === 'confd') mkdirSync(path.join(dir, 'out-confd'));
      });
      const unchanged = rounds(programs, runs, argsOf);
      for (const p of programs) {
        result[`${p.name}_onetime_${where}_ms`] = round(median(written.get(p.name)!), 1);
        result[`${p.name}_onetime_unchanged_${where}_ms`] = round(median(unchanged.get(p.name)!), 1);
      }
      if (confdBin) result[`exe_onetime_${where}_vs_confd`] = ratio(written.get('exe')!, written.get('confd')!);
      result[`exe_onetime_${where}_vs_dist`] = ratio(written.get('exe')!, written.get('dist')!);
      if (where === 'disk') {
        const validate = rounds(reconfigs, runs, () => ['validate', '-c', dir]);
        for (const p of reconfigs) {
          result[`${p.name}_validate_ms`] = round(median(validate.get(p.name)!), 1);
          rmSync(path.join(dir, 'out'), { recursive: true, force: true });
          result[`${p.name}_onetime_peak_rss_mb`] = round(run([...p.argv, ...argsOf(p)]).peakMb, 1);
        }
        if (confdBin) {
          rmSync(path.join(dir, 'out-confd'), { recursive: true, force: true });
          mkdirSync(path.join(dir, 'out-confd'));
          result.confd_onetime_peak_rss_mb = round(run([confdBin, ...argsOf({ name: 'confd', argv: [] })]).peakMb, 1);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await client.delete().prefix('/startup/');
    }
  }
  // Where --onetime's time goes (see the top of this file).
  for (const p of reconfigs) {
    const r = (k: string): number => result[`${p.name}_${k}`];
    result[`${p.name}_part_start_ms`] = r('version_ms');
    result[`${p.name}_part_config_ms`] = round(r('validate_ms') - r('version_ms'), 1);
    result[`${p.name}_part_etcd_ms`] = round(r('onetime_unchanged_disk_ms') - r('validate_ms'), 1);
    result[`${p.name}_part_writes_ms`] = round(r('onetime_disk_ms') - r('onetime_unchanged_disk_ms'), 1);
    if (result[`${p.name}_onetime_tmpfs_ms`] !== undefined) {
      result[`${p.name}_part_fsync_ms`] = round(r('part_writes_ms') - (r('onetime_tmpfs_ms') - r('onetime_unchanged_tmpfs_ms')), 1);
    }
  }
  // Idle memory: IDLE_RUNS agents of each, interleaved; the run with the median VmRSS, with its two parts.
  const idle = new Map<string, IdleMemory[]>(reconfigs.map((p) => [p.name, []]));
  for (let i = 0; i < IDLE_RUNS; i++) for (const p of reconfigs) idle.get(p.name)!.push(await idleAgent(etcd, client, 'startup-idle', p.argv));
  for (const p of reconfigs) {
    const m = medianRun(idle.get(p.name)!);
    result[`${p.name}_idle_rss_mb`] = m.rss;
    result[`${p.name}_idle_rss_anon_mb`] = m.anon;
    result[`${p.name}_idle_rss_file_mb`] = m.file;
  }
  return result;
}

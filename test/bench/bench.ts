/**
 * `npm run bench [-- --quick] [--runs N] [--only keys,latency,...]` (scenarios: startup, onetime, idle, latency,
 * burst, targets, keys, recovery, import, rollback, sidebyside: dist/ against the single executable and confd, startup.ts):
 * reconfig's latency, CPU and memory against a real etcd, with the built CLI as a
 * separate process, beside a floor measured in the same run (a bare etcd3 watcher in this process). Prints a
 * table and writes test/bench/results/latest.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { etcdBinary } from '../../scripts/etcd-binary';
import { EtcdServer } from '../../scripts/etcd-server';
import { idle, startup } from './footprint';
import { CLI, agents, median, round, workRoot } from './harness';
import { importBench } from './import';
import { recovery } from './recovery';
import { rollbackBench } from './rollback';
import { keys, onetime, targets } from './scale';
import { executable, sideBySide } from './startup';
import { burst, latency } from './watch';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RESULTS = path.join(ROOT, 'test', 'bench', 'results');
const quick = process.argv.includes('--quick');

const TARGETS: Array<[string, string, (s: Record<string, Record<string, number>>) => number, string, (v: number, s: Record<string, Record<string, number>>) => boolean]> = [
  ['latency', 'p50 (ms)', (s) => s.latency.p50_ms, '<= 1.3x floor', (v, s) => v <= 1.3 * s.latency.floor_p50_ms],
  ['latency', 'floor p50 (ms)', (s) => s.latency.floor_p50_ms, '', () => true],
  ['latency', 'confd p50, same run (ms; CONFD_BIN)', (s) => s.latency.confd_p50_ms ?? NaN, '', () => true],
  ['latency', 'p50 / confd p50', (s) => (s.latency.confd_p50_ms === undefined ? NaN : s.latency.p50_ms / s.latency.confd_p50_ms), '<= 1', (v) => v <= 1],
  ['latency', 'p50 with target files on tmpfs (ms)', (s) => s.latency.tmpfs_p50_ms ?? NaN, '', () => true],
  ['latency', 'floor p50 in that run (ms)', (s) => s.latency.tmpfs_floor_p50_ms ?? NaN, '', () => true],
  // Where syncs cost nothing: what is left of the gap to confd is not the price of a durable write.
  ['latency', 'confd p50 on tmpfs, same run (ms; CONFD_BIN)', (s) => s.latency.tmpfs_confd_p50_ms ?? NaN, '', () => true],
  ['latency', 'p99 (ms)', (s) => s.latency.p99_ms, '<= 20', (v) => v <= 20],
  ['burst', 'last put to exact file (ms)', (s) => s.burst.converge_ms, '<= 100', (v) => v <= 100],
  ['burst', 'agent CPU (s)', (s) => s.burst.cpu_s, '<= 1.2x floor', (v, s) => v <= 1.2 * s.burst.floor_cpu_s],
  ['burst', 'floor: bare etcd3 watcher CPU (s)', (s) => s.burst.floor_cpu_s, '', () => true],
  ['burst', 'applies for 5,000 puts', (s) => s.burst.applies, '', () => true],
  ['targets', 'watch streams', (s) => s.targets.watch_streams, '1', (v) => v === 1],
  ['targets', 'start to all rendered (ms)', (s) => s.targets.startup_ms, '<= 2000', (v) => v <= 2000],
  ['targets', 'RSS (MB)', (s) => s.targets.rss_mb, '<= 120', (v) => v <= 120],
  ['targets', 'one change among 1,000 (ms)', (s) => s.targets.change_ms, '', () => true],
  ['keys', 'initial render (ms)', (s) => s.keys.initial_ms, '', () => true],
  ['keys', 're-render after one change (ms)', (s) => s.keys.rerender_ms, '<= 300', (v) => v <= 300],
  ['keys', 'RSS (MB)', (s) => s.keys.rss_mb, '<= 300', (v) => v <= 300],
  ['onetime', 'wall time (ms)', (s) => s.onetime.wall_ms, '<= 3.5x node -e ""', (v, s) => s.startup !== undefined && v <= 3.5 * s.startup.node_ms],
  ['onetime', 'peak RSS (MB)', (s) => s.onetime.peak_rss_mb, '<= 80', (v) => v <= 80],
  ['startup', 'node -e "" (ms)', (s) => s.startup.node_ms, '', () => true],
  ['startup', 'reconfig --version (ms)', (s) => s.startup.version_ms, '<= 1.5x node -e ""', (v, s) => v <= 1.5 * s.startup.node_ms],
  ['startup', 'reconfig validate, the examples (ms)', (s) => s.startup.validate_ms, '', () => true],
  ['idle', 'RSS, one target, 10 s after its first apply (MB)', (s) => s.idle.rss_mb, '<= 50', (v) => v <= 50],
  ['sidebyside', 'node -e "" (ms)', (s) => s.sidebyside.node_ms, '', () => true],
  ['sidebyside', 'dist/ --version (ms)', (s) => s.sidebyside.dist_version_ms, '', () => true],
  ['sidebyside', 'executable --version (ms)', (s) => s.sidebyside.exe_version_ms, '', () => true],
  ['sidebyside', 'dist/ --onetime, 100 targets (ms)', (s) => s.sidebyside.dist_onetime_disk_ms, '', () => true],
  ['sidebyside', 'executable --onetime, 100 targets (ms)', (s) => s.sidebyside.exe_onetime_disk_ms, '', () => true],
  ['sidebyside', 'confd --onetime, 100 targets (ms; CONFD_BIN)', (s) => s.sidebyside.confd_onetime_disk_ms ?? NaN, '', () => true],
  ['sidebyside', 'executable / confd, --onetime', (s) => s.sidebyside.exe_onetime_disk_vs_confd ?? NaN, '<= 0.8', (v) => v <= 0.8],
  ['sidebyside', 'executable / dist/, --onetime', (s) => s.sidebyside.exe_onetime_disk_vs_dist, '', () => true],
  ['sidebyside', 'executable --onetime: start (ms)', (s) => s.sidebyside.exe_part_start_ms, '', () => true],
  ['sidebyside', 'executable --onetime: conf.d and templates (ms)', (s) => s.sidebyside.exe_part_config_ms, '', () => true],
  ['sidebyside', 'executable --onetime: etcd reads, renders (ms)', (s) => s.sidebyside.exe_part_etcd_ms, '', () => true],
  ['sidebyside', 'executable --onetime: 100 writes (ms)', (s) => s.sidebyside.exe_part_writes_ms, '', () => true],
  ['sidebyside', 'executable --onetime: of which fsync (ms)', (s) => s.sidebyside.exe_part_fsync_ms ?? NaN, '', () => true],
  ['sidebyside', 'executable --onetime peak RSS (MB)', (s) => s.sidebyside.exe_onetime_peak_rss_mb, '', () => true],
  ['sidebyside', 'confd --onetime peak RSS (MB)', (s) => s.sidebyside.confd_onetime_peak_rss_mb ?? NaN, '', () => true],
  ['sidebyside', 'dist/ idle RSS (MB)', (s) => s.sidebyside.dist_idle_rss_mb, '<= 50', (v) => v <= 50],
  ['sidebyside', 'executable idle RSS (MB)', (s) => s.sidebyside.exe_idle_rss_mb, '<= 50', (v) => v <= 50],
  ['rollback', 'verify failed -> old file back and reloaded, p50 (ms)', (s) => s.rollback.rollback_p50_ms, '', () => true],
  ['rollback', 'verify failed -> old file back and reloaded, max (ms)', (s) => s.rollback.rollback_max_ms, '', () => true],
  ['rollback', 'one apply of a two-file target, p50 (ms)', (s) => s.rollback.two_file_apply_p50_ms, '', () => true],
  ['rollback', 'two one-file targets applied in turn, p50 (ms)', (s) => s.rollback.two_one_file_applies_p50_ms, '', () => true],
  ['rollback', 'history: keeping a version of the two files, p50 (ms)', (s) => s.rollback.history_keep_p50_ms, '', () => true],
  ['rollback', 'swap journal written and removed (two files), p50 (ms)', (s) => s.rollback.journal_p50_ms, '', () => true],
  ['import', 'import confd, 100 resources (ms)', (s) => s.import.import_100_ms, '', () => true],
  ['recovery', '--onetime against a black hole: exit, p50 (ms)', (s) => s.recovery.blackhole_exit_p50_ms, '<= 3000 + against a closed port', (v, s) => v <= 3000 + s.recovery.refused_exit_p50_ms],
  ['recovery', '--onetime against a black hole: exit, max (ms)', (s) => s.recovery.blackhole_exit_max_ms, '', () => true],
  ['recovery', '--onetime against a closed port: exit, p50 (ms)', (s) => s.recovery.refused_exit_p50_ms, '', () => true],
  ['recovery', 'link cut past a compaction: reconnected line to file, p50 (ms)', (s) => s.recovery.compaction_reconnect_to_file_p50_ms, '<= 200', (v) => v <= 200],
  ['recovery', 'link cut past a compaction: reconnected line to file, max (ms)', (s) => s.recovery.compaction_reconnect_to_file_max_ms, '<= 200', (v) => v <= 200],
  ['recovery', 'link cut past a compaction: link back to file, p50 (ms)', (s) => s.recovery.compaction_link_back_to_file_p50_ms, '', () => true],
  ['recovery', 'etcd restarted: back to file, p50 (ms)', (s) => s.recovery.restart_back_to_file_p50_ms, '', () => true],
  ['recovery', 'etcd restarted: back to file, max (ms)', (s) => s.recovery.restart_back_to_file_max_ms, '', () => true],
  ['recovery', 'leader (the member in use) killed: kill to file, p50 (ms)', (s) => s.recovery.leader_loss_kill_to_file_p50_ms, '', () => true],
  ['recovery', 'leader (the member in use) killed: kill to file, max (ms)', (s) => s.recovery.leader_loss_kill_to_file_max_ms, '', () => true],
  ['recovery', 'leader killed: kill to the write taken by the new leader, p50 (ms)', (s) => s.recovery.leader_loss_kill_to_write_p50_ms, '', () => true],
  ['recovery', 'half-open member in use: silent to file, p50 (ms)', (s) => s.recovery.half_open_to_file_p50_ms, '<= 30000', (v) => v <= 30_000],
  ['recovery', 'half-open member in use: silent to file, max (ms)', (s) => s.recovery.half_open_to_file_max_ms, '<= 30000', (v) => v <= 30_000],
];

function fsType(dir: string): string {
  const r = spawnSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' });
  return r.stdout.trim() || 'unknown';
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error('run `npm run build` first');
  const started = Date.now();
  const etcd = await EtcdServer.start(['--quota-backend-bytes', String(4 * 1024 ** 3)]);
  const client = etcd.client();
  const runsArg = process.argv.includes('--runs') ? Number(process.argv[process.argv.indexOf('--runs') + 1]) : 1;
  const runs: Array<Record<string, Record<string, number>>> = [];
  try {
    for (let run = 0; run < runsArg; run++) {
      const scenarios: Record<string, Record<string, number>> = {};
      runs.push(scenarios);
      const step = async (name: string, fn: () => Promise<Record<string, number>>): Promise<void> => {
        process.stderr.write(`bench: run ${run + 1}/${runsArg}: ${name}...\n`);
        scenarios[name] = await fn();
      };
      const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1].split(',') : null;
      const want = (name: string): boolean => only === null || only.includes(name);
      // onetime first: the later scenarios leave etcd busy compacting and freeing what they wrote.
      if (want('startup') || want('onetime')) await step('startup', () => Promise.resolve(startup(quick ? 5 : 15)));
      if (want('onetime')) await step('onetime', () => onetime(etcd, client, quick ? 5 : 15));
      if (want('idle')) await step('idle', () => idle(etcd, client));
      if (want('latency')) {
        await step('latency', () => latency(etcd, client, quick ? 100 : 500));
        // The same on tmpfs, where fsync costs nothing: the difference is the price of a durable write.
        if (existsSync('/dev/shm') && fsType('/dev/shm') === 'tmpfs') {
          const shm = await latency(etcd, client, quick ? 100 : 500, '/dev/shm');
          scenarios.latency.tmpfs_p50_ms = shm.p50_ms!;
          scenarios.latency.tmpfs_floor_p50_ms = shm.floor_p50_ms!;
          if (shm.confd_p50_ms !== undefined) scenarios.latency.tmpfs_confd_p50_ms = shm.confd_p50_ms;
        }
      }
      if (want('burst')) await step('burst', () => burst(etcd, client));
      if (want('targets')) await step('targets', () => targets(etcd, client, 1000));
      if (want('keys')) await step('keys', () => keys(etcd, client, 100_000));
      // Needs the executable (npm run package:bin); without one it is left out unless asked for by name.
      if ((only === null && executable() !== null) || only?.includes('sidebyside')) await step('sidebyside', () => sideBySide(etcd, client, quick ? 5 : 15));
      if (want('recovery')) await step('recovery', () => recovery(etcd, client, quick ? 2 : 3));
      if (want('import')) await step('import', () => importBench(quick));
      if (want('rollback')) await step('rollback', () => rollbackBench(quick));
    }
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    client.close();
    await etcd.stop();
  }
  // With --runs N, every figure is the median over the runs.
  const scenarios: Record<string, Record<string, number>> = {};
  for (const [name, first] of Object.entries(runs[0])) {
    scenarios[name] = {};
    for (const key of Object.keys(first)) scenarios[name][key] = median(runs.map((r) => r[name][key]));
  }
  const machine = {
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model ?? 'unknown',
    mem_gb: round(os.totalmem() / 1024 ** 3, 1),
    node: process.version,
    etcd: (spawnSync(etcdBinary(), ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '').replace('etcd Version: ', ''),
    target_fs: fsType(workRoot),
    quick,
    date: new Date().toISOString(),
    duration_s: round((Date.now() - started) / 1000, 1),
    runs: runsArg,
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(path.join(RESULTS, 'latest.json'), `${JSON.stringify({ machine, scenarios }, null, 2)}\n`);
  const rows = TARGETS.filter(([sc]) => scenarios[sc]).map(([sc, fig, get, target, ok]) => {
    const v = get(scenarios);
    const verdict = !target ? '' : Number.isNaN(v) ? 'not measured' : ok(v, scenarios) ? 'ok' : 'MISSED';
    return `| ${sc} | ${fig} | ${v} | ${target} | ${verdict} |`;
  });
  console.log(`\n${machine.cpus} x ${machine.cpu_model}, ${machine.mem_gb} GB, Node ${machine.node}, etcd ${machine.etcd}, target files on ${machine.target_fs}${quick ? ', --quick' : ''}, median of ${runsArg} run(s)\n`);
  console.log(['| scenario | figure | measured | target | |', '|---|---|---|---|---|', ...rows].join('\n'));
  console.log(`\nwritten to ${path.relative(ROOT, path.join(RESULTS, 'latest.json'))} in ${machine.duration_s} s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

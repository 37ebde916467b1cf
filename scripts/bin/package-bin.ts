/**
 * `npm run package:bin`: reconfig as one executable, dist/bin/reconfig-<version>-linux-<arch>, that needs no
 * Node installed: Node 24's own binary with our bundle injected (Node's "single executable applications").
 *
 *   node dist/scripts/bin/package-bin.js [--arch x64|arm64] [--snapshot] [--output file]
 *
 * The default arch is this machine's. `--arch arm64` on x64 runs the arm64 Node under qemu-user
 * (node-runtime.ts), for the blob and its code cache, which only the V8 that reads it may make.
 *
 * 1. dist/src/cli.js and everything it loads become one script (bundle.ts), etcd3's protos inside.
 * 2. That Node makes the blob (`--experimental-sea-config`), with V8's code cache of the script, so that the
 *    executable does not compile it at every start. --snapshot makes a V8 startup snapshot instead
 *    (snapshot-main.ts). The blob carries V8_FLAGS as the executable's own `execArgv`.
 * 3. A copy of that Node, stripped, gets the blob (postject), and is run once: its
 *    --version must be package.json's.
 * It writes THIRD-PARTY beside the executable too: Node's version and the npm packages inside, with their
 * licenses (the packages take it from there).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { version } from '../../src/version';
import { bundle } from './bundle';
import { type Arch, NODE_MAJOR, nodeBinary, runner, stripFor } from './node-runtime';

const ROOT = path.resolve(__dirname, '..', '..', '..');
export const OUT = path.join(ROOT, 'dist', 'bin');
/** The fuse Node looks for to know that a blob was injected (Node's documentation of single executables). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/**
 * The V8 flags the executable always starts with (the sea-config's `execArgv`; they reach no child process,
 * unlike NODE_OPTIONS, which checkcmd, reloadcmd and a sidecar's program would inherit). None today:
 * --max-semi-space-size=1 cut an idle agent's RSS by 5 MB but made the re-render of 100,000 keys 1.7x slower
 * (the young generation can no longer grow under load); the GC after the first full apply
 * (src/ops/heap.ts) gives back more, 9 MB, with nothing capped (docs/performance.md).
 */
export const V8_FLAGS: readonly string[] = [];

/** What Node prints when the code cache in the blob was made with flags other than the executable's. */
const CODE_CACHE_REJECTED = /code cache data rejected/i;

export interface BuildOptions {
  arch: Arch;
  snapshot: boolean;
  /** Default: dist/bin/reconfig-<version>-linux-<arch>. */
  output?: string;
}

/** Runs `cmd` to its end; its stdout, and its stderr when `both` asks for it. */
function run(cmd: string, args: string[], cwd?: string): string;
function run(cmd: string, args: string[], cwd: string | undefined, both: true): { stdout: string; stderr: string };
function run(cmd: string, args: string[], cwd?: string, both?: true): string | { stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error || r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal ?? '?'}: ${r.stderr + r.stdout}`.trim(), { cause: r.error ?? r });
  }
  return both ? { stdout: r.stdout, stderr: r.stderr } : r.stdout;
}

/** Runs a program built for this build's arch, through qemu-user if `via` names it. */
function runOn(via: string[], file: string, args: string[], cwd?: string): string;
function runOn(via: string[], file: string, args: string[], cwd: string | undefined, both: true): { stdout: string; stderr: string };
function runOn(via: string[], file: string, args: string[], cwd?: string, both?: true): string | { stdout: string; stderr: string } {
  const [cmd, argv] = via.length > 0 ? [via[0], [...via.slice(1), file, ...args]] : [file, args];
  return both ? run(cmd, argv, cwd, true) : run(cmd, argv, cwd);
}

export async function buildExecutable(opts: BuildOptions): Promise<string> {
  const output = opts.output ?? path.join(OUT, `reconfig-${version}-linux-${opts.arch}`);
  const node = nodeBinary(opts.arch);
  const via = runner(opts.arch);
  const work = mkdtempSync(path.join(os.tmpdir(), 'reconfig-sea-'));
  try {
    const main = path.join(work, 'reconfig.cjs');
    const built = opts.snapshot ? await bundle(main, NODE_MAJOR, path.join(__dirname, 'snapshot-main.js'), 'iife') : await bundle(main, NODE_MAJOR);
    const blob = path.join(work, 'reconfig.blob');
    const config = {
      main,
      output: blob,
      disableExperimentalSEAWarning: true,
      useSnapshot: opts.snapshot,
      useCodeCache: !opts.snapshot,
      execArgv: V8_FLAGS,
    };
    writeFileSync(path.join(work, 'sea.json'), JSON.stringify(config, null, 2));
    // The code cache (or snapshot) is made under the flags the executable runs with: V8 refuses a cache made
    // with flags that change code generation, and the executable would then compile everything at each start.
    runOn(via, node, [...V8_FLAGS, '--experimental-sea-config', 'sea.json'], work);

    mkdirSync(path.dirname(output), { recursive: true });
    const exe = path.join(work, 'reconfig');
    copyFileSync(node, exe);
    // Node's binary carries 18 MB of symbols and debugging information that nothing at run time reads (the
    // dynamic symbols native add-ons link against stay); Debian's policy wants installed binaries stripped.
    run(stripFor(opts.arch), ['--strip-all', exe]);
    chmodSync(exe, 0o755);
    run(process.execPath, [require.resolve('postject/dist/cli.js'), exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);
    const { stdout, stderr } = runOn(via, exe, ['--version'], undefined, true);
    const said = stdout.trim();
    if (said !== version) throw new Error(`${exe} --version said ${JSON.stringify(said)}, not ${version}`);
    if (CODE_CACHE_REJECTED.test(stderr)) throw new Error(`${exe} --version: V8 rejected the code cache in the blob: ${stderr.trim()}`);
    copyFileSync(exe, output);
    chmodSync(output, 0o755);
    writeFileSync(
      path.join(path.dirname(output), 'THIRD-PARTY'),
      `reconfig ${version}'s executable contains Node.js ${runOn(via, node, ['--version']).trim()} (MIT and others: https://github.com/nodejs/node/blob/main/LICENSE)\n` +
        `and these npm packages, each under the license its package.json names:\n\n` +
        built.packages.map((p) => `${p.name} ${p.version}: ${p.license}\n`).join(''),
    );
    process.stderr.write(`package-bin: ${path.relative(ROOT, output)}: ${(statSync(output).size / 1e6).toFixed(1)} MB, script ${(built.bytes / 1e6).toFixed(1)} MB, ${opts.snapshot ? 'startup snapshot' : 'code cache'}\n`);
    return output;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function parseArgs(argv: string[]): BuildOptions {
  const opts: BuildOptions = { arch: os.arch() === 'arm64' ? 'arm64' : 'x64', snapshot: false };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    if (a === '--snapshot') opts.snapshot = true;
    else if (a === '--arch' && (argv[i + 1] === 'x64' || argv[i + 1] === 'arm64')) opts.arch = argv[++i] as Arch;
    else if (a === '--output' && argv[i + 1]) opts.output = path.resolve(argv[++i]);
    else throw new Error(`package-bin: unknown argument ${a} (usage: [--arch x64|arm64] [--snapshot] [--output file])`);
  }
  return opts;
}

if (require.main === module) {
  buildExecutable(parseArgs(process.argv.slice(2))).then(
    (file) => process.stdout.write(`${file}\n`),
    (err: unknown) => {
      process.stderr.write(`package-bin: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

/**
 * The Node that goes inside the executable: the current LTS (24) from the npm registry's node-linux-<arch>
 * package, the same one CI runs the suite on, kept under .cache/ between runs. For an arm64 build on an x64
 * machine it runs under qemu-user (Debian's qemu-user-static, with arm64 libraries from Debian's multiarch).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type Arch = 'x64' | 'arm64';
export const NODE_MAJOR = 24;

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** .cache/node-lts is the folder .ci/run already fills for x64; arm64 gets one of its own. */
function cacheDir(arch: Arch): string {
  return path.join(ROOT, '.cache', arch === 'x64' ? 'node-lts' : `node-lts-${arch}`);
}

/** The node binary for `arch`, fetched with npm into .cache/ if it is not there yet. */
export function nodeBinary(arch: Arch): string {
  const dir = cacheDir(arch);
  const bin = path.join(dir, 'node_modules', `node-linux-${arch}`, 'bin', 'node');
  if (!existsSync(bin)) {
    process.stderr.write(`package-bin: fetching node-linux-${arch}@${NODE_MAJOR} from the npm registry into ${path.relative(ROOT, dir)}\n`);
    // --force: the arm64 package declares cpu: arm64, and npm refuses it on x64 otherwise.
    const force = arch === os.arch() ? [] : ['--force'];
    execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--loglevel=error', ...force, '--prefix', dir, `node-linux-${arch}@${NODE_MAJOR}`], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (!existsSync(bin)) throw new Error(`npm install node-linux-${arch}@${NODE_MAJOR} left no ${bin}`);
  }
  return bin;
}

/** GNU's name for each arch, as in Debian's qemu-<name>-static and <name>-linux-gnu-strip. */
const GNU_NAME: Record<Arch, string> = { x64: 'x86_64', arm64: 'aarch64' };

/** The dynamic loader a linux-arm64 Node asks for; Debian's libc6:arm64 puts it there (multiarch). */
const ARM64_LOADER = '/lib/ld-linux-aarch64.so.1';

function installed(program: string): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v "$1"', 'sh', program], { stdio: 'ignore' });
    return true;
  } catch {
    return false; // command -v exits 1: not on PATH
  }
}

/**
 * How to run a program built for `arch` here: directly, or through qemu-user. No binfmt_misc registration is
 * assumed (CI machines have none): qemu is named on the command line. The arm64 Node links glibc and libstdc++
 * dynamically; qemu looks for its loader and libraries under QEMU_LD_PREFIX if set, else under /, where
 * Debian's multiarch packages put them.
 */
export function runner(arch: Arch): string[] {
  if (arch === os.arch()) return [];
  const qemu = `qemu-${GNU_NAME[arch]}-static`;
  if (!installed(qemu)) throw new Error(`${qemu} is not installed: an ${arch} build runs its Node here under qemu-user (apt-get install qemu-user-static)`);
  if (arch === 'arm64') {
    const loader = path.join(process.env.QEMU_LD_PREFIX ?? '/', ARM64_LOADER);
    if (!existsSync(loader)) {
      throw new Error(
        `${loader} is missing: the arm64 Node needs Debian's arm64 libraries under qemu ` +
          `(dpkg --add-architecture arm64 && apt-get update && apt-get install libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64)`,
      );
    }
  }
  return [qemu];
}

/** The `strip` that understands `arch`'s ELF files: binutils' own for this machine, the cross one otherwise. */
export function stripFor(arch: Arch): string {
  if (arch === os.arch()) return 'strip';
  const strip = `${GNU_NAME[arch]}-linux-gnu-strip`;
  if (!installed(strip)) throw new Error(`${strip} is not installed: the ${arch} Node is stripped with it (apt-get install binutils-${GNU_NAME[arch].replace('_', '-')}-linux-gnu)`);
  return strip;
}

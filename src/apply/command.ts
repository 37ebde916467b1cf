/**
 * Runs a check or reload command through /bin/sh -c with a time limit, capturing its output. Only paths
 * we chose ever reach the command line; values from etcd never do.
 */
import { spawn } from 'node:child_process';
import { CommandError } from '../errors';

export interface CommandResult {
  output: string;
}

/** Output beyond this is cut (and says so), so that a chatty command cannot exhaust memory. */
const MAX_OUTPUT = 1 << 20;
/** After the time limit: SIGTERM to the whole process group, then SIGKILL this much later. */
const KILL_GRACE_MS = 2000;

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export async function runCommand(
  stage: 'check' | 'reload' | 'verify',
  command: string,
  opts: { env: Record<string, string>; timeoutMs: number },
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so that a time-out stops the command's children too.
      detached: true,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    const collect = (b: Buffer): void => {
      if (size < MAX_OUTPUT) chunks.push(b.subarray(0, MAX_OUTPUT - size));
      size += b.length;
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    let timedOut = false;
    let killer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      signalGroup(child.pid, 'SIGTERM');
      killer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new CommandError(stage, command, null, null, `cannot start /bin/sh: ${err.message}`, false));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (killer) clearTimeout(killer);
      let output = Buffer.concat(chunks).toString('utf8');
      if (size > MAX_OUTPUT) output += `\n[... ${size - MAX_OUTPUT} more bytes of output cut]`;
      if (code === 0 && !timedOut) resolve({ output });
      else reject(new CommandError(stage, command, code, signal, output, timedOut));
    });
  });
}

function signalGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, sig);
  } catch {
    // The group is already gone.
  }
}

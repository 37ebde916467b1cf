/** The bench's tools: timing, temp configs, waiting for a file, agent processes, /proc readings, bulk puts. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, watch, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Etcd3 } from 'etcd3';

const ROOT = path.resolve(__dirname, '..', '..', '..');
export const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
export const workRoot = process.env.RECONFIG_BENCH_DIR ?? os.tmpdir();
/**
 * The environment of every reconfig process. NODE_EXTRA_CA_CERTS is dropped: some machines (this one) set it
 * to the whole system CA bundle, which Node parses at start-up whether or not TLS is used (~100 ms here).
 */
export const agentEnv = { ...process.env };
delete agentEnv.NODE_EXTRA_CA_CERTS;

export const now = (): number => performance.now();
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
export const median = (xs: number[]): number => percentile(xs, 50);

export function workDir(name: string): string {
  return mkdtempSync(path.join(workRoot, `reconfig-bench-${name}-`));
}

export function writeCfg(dir: string, targets: Array<Record<string, unknown>>, templates: Record<string, string>): void {
  mkdirSync(path.join(dir, 'conf.d'), { recursive: true });
  mkdirSync(path.join(dir, 'templates'), { recursive: true });
  mkdirSync(path.join(dir, 'out'), { recursive: true });
  for (const t of targets) writeFileSync(path.join(dir, 'conf.d', `${String(t.id)}.json`), JSON.stringify(t));
  for (const [n, b] of Object.entries(templates)) writeFileSync(path.join(dir, 'templates', n), b);
}

export function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Resolves when `file` satisfies `pred`, checking on every change in its directory (and every 50 ms). */
export function whenFile(file: string, pred: (content: string) => boolean, timeoutMs = 60_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      if (!pred(readOr(file))) return false;
      done(null);
      return true;
    };
    // Only events on the file itself (the swap is a rename onto it), so a 3 MB file is not re-read for
    // every staged write beside it.
    const w = watch(path.dirname(file), (_, name) => {
      if (name === null || name === path.basename(file)) check();
    });
    const poll = setInterval(check, 50);
    const timer = setTimeout(() => done(new Error(`timed out waiting for ${file}`)), timeoutMs);
    function done(err: Error | null): void {
      const t = now();
      w.close();
      clearInterval(poll);
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(t);
    }
    check();
  });
}

/** Every agent started, so that a failed scenario cannot leave one running. */
export const agents: Agent[] = [];

export class Agent {
  readonly proc: ChildProcess;
  stderr = '';
  /** `program`: how reconfig is started (default `node dist/src/cli.js`; the single executable alone). */
  constructor(args: string[], program: string[] = [process.execPath, CLI]) {
    agents.push(this);
    this.proc = spawn(program[0], [...program.slice(1), ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: agentEnv });
    this.proc.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
  }
  get pid(): number {
    return this.proc.pid!;
  }
  count(msg: string): number {
    return this.stderr.split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).length;
  }
  /** Log lines whose message holds `part`. */
  countSome(part: string): number {
    return this.stderr.split('\n').filter((l) => l.includes('"msg":"') && l.includes(part)).length;
  }
  /** Waits for a log line whose message begins with `msg`. */
  async waitLog(msg: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.stderr.includes(`"msg":"${msg}`)) {
      if (Date.now() > deadline || this.proc.exitCode !== null) throw new Error(`agent never logged ${msg}: ${this.stderr.slice(-2000)}`);
      await sleep(5);
    }
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await exited;
  }
}

export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the ") " split.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return round(Number(m![1]) / 1024, 1);
}

export async function putMany(client: Etcd3, kvs: Array<[string, string]>): Promise<void> {
  // Transactions of 128 puts (etcd's --max-txn-ops default), several in flight.
  const batches: Array<Array<[string, string]>> = [];
  for (let i = 0; i < kvs.length; i += 128) batches.push(kvs.slice(i, i + 128));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length) {
      const b = batches[next++];
      await client.if(b[0][0], 'Version', '>', -1).then(...b.map(([k, v]) => client.put(k).value(v))).commit();
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}


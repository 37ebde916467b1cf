/**
 * Runs the built CLI as users do: a separate node process on dist/src/cli.js, or, when RECONFIG_E2E_BIN names
 * one, the single executable (`npm run package:bin`), so that the same end-to-end tests check both. An
 * executable for another architecture runs through the program RECONFIG_E2E_RUNNER names, e.g.
 * `RECONFIG_E2E_RUNNER=qemu-aarch64-static` for the linux-arm64 one on an x64 machine.
 */
import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { waitFor } from './util';

export const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli.js');

/** The variable naming an executable to test instead of dist/src/cli.js. */
export const E2E_BIN_ENV = 'RECONFIG_E2E_BIN';
/**
 * The variable naming what runs that executable, when it cannot run alone (an emulator): a program and its
 * arguments, split at white space (no quoting), put before the executable's path.
 */
export const E2E_RUNNER_ENV = 'RECONFIG_E2E_RUNNER';

/** The program and leading arguments that start reconfig: `node dist/src/cli.js`, or the executable, after its runner if any. */
export function cliCommand(): [string, ...string[]] {
  const bin = process.env[E2E_BIN_ENV];
  if (!bin) {
    if (process.env[E2E_RUNNER_ENV]) throw new Error(`${E2E_RUNNER_ENV} is set but ${E2E_BIN_ENV} is not: a runner runs an executable`);
    return [process.execPath, CLI];
  }
  const runner = (process.env[E2E_RUNNER_ENV] ?? '').split(/\s+/).filter((w) => w !== '');
  return runner.length > 0 ? [runner[0], ...runner.slice(1), path.resolve(bin)] : [path.resolve(bin)];
}

/** The environment reconfig runs with: ours, less the test switch, plus the test's own. */
function cliEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env[E2E_BIN_ENV];
  delete env[E2E_RUNNER_ENV];
  return env;
}

function spawnCli(args: string[], env: Record<string, string> | undefined): ChildProcessByStdio<null, Readable, Readable> {
  const [cmd, ...pre] = cliCommand();
  return spawn(cmd, [...pre, ...args], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function runCli(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, opts.env);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

export interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

/** A long-running agent whose JSON log lines can be awaited. */
export class AgentProcess {
  readonly logs: LogLine[] = [];
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly child: ChildProcess) {
    let partial = '';
    child.stderr!.on('data', (c: Buffer) => {
      this.stderr += c.toString();
      partial += c.toString();
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const l of lines) {
        try {
          this.logs.push(JSON.parse(l) as LogLine);
        } catch {
          // not a log line
        }
      }
    });
    child.stdout!.on('data', (c: Buffer) => (this.stdout += c.toString()));
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  static start(args: string[], env: Record<string, string> = {}): AgentProcess {
    return new AgentProcess(spawnCli(args, env));
  }

  /** Any program, not reconfig: for helpers such as a daemon that a test signals. */
  static startRaw(cmd: string, args: string[]): AgentProcess {
    return new AgentProcess(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  async waitForLog(pred: (l: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine> {
    return waitFor(() => this.logs.find(pred), `log line: ${what}\n--- stderr so far:\n${this.stderr.slice(-3000)}`, timeoutMs);
  }

  count(pred: (l: LogLine) => boolean): number {
    return this.logs.filter(pred).length;
  }

  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

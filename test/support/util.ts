/** Small helpers for tests: temp dirs, polling with a generous liveness bound, a cfgdir builder. */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];

// Every test file runs in a process of its own: its temporary directories go when it exits, passed or failed
// (a Patroni data directory owned by postgres included: the tests run as root).
process.once('exit', () => {
  for (const dir of made) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
    } catch (err) {
      process.stderr.write(`could not remove ${dir}: ${(err as Error).message}\n`);
    }
  }
});

/** A fresh directory under the system's temporary directory, removed when the test process exits. */
export function tempDir(name = 'reconfig-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), name));
  made.push(dir);
  return dir;
}

/** Polls until `fn` returns a truthy value; fails after `timeoutMs` (a liveness bound, not a speed test). */
export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function readOr(file: string, fallback = ''): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

export interface TargetFile {
  [field: string]: unknown;
}

/** Writes a cfgdir with conf.d/<name>.json and templates/<file> for each entry. */
export function makeCfgdir(
  targets: Record<string, TargetFile | string>,
  templates: Record<string, string>,
  dir = tempDir('reconfig-cfg-'),
): string {
  mkdirSync(path.join(dir, 'conf.d'), { recursive: true });
  mkdirSync(path.join(dir, 'templates'), { recursive: true });
  for (const [name, t] of Object.entries(targets)) {
    writeFileSync(path.join(dir, 'conf.d', `${name}.json`), typeof t === 'string' ? t : JSON.stringify(t, null, 2));
  }
  for (const [name, body] of Object.entries(templates)) writeFileSync(path.join(dir, 'templates', name), body);
  return dir;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A template that lists every key=value of reconfigdata, one per line. */
export const LIST = '<% for (const [k, v] of Object.entries(reconfigdata)) { %><%= k %>=<%= v %>\n<% } %>';

/** The non-empty lines of a file ('' if it is absent): counts reloads that append a line each. */
export function lines(file: string): string[] {
  return readOr(file).split('\n').filter(Boolean);
}

/**
 * Sends `signal` to a child that is still running and waits for it to exit; with `killAfterMs`, a child that
 * outlives it gets SIGKILL.
 */
export async function stopProcess(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', killAfterMs?: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill(signal);
  const timer = killAfterMs === undefined ? undefined : setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
  await exited;
  clearTimeout(timer);
}

/**
 * The README's first target, run as written: every block marked `<!-- walkthrough ... -->` goes, in order, to one
 * bash (the user's second terminal) or to a process of its own (a `terminal` block), against a real etcd, and
 * every `output` block must be exactly what its command printed on stdout. Only the environment differs from a
 * user's: HOME is a temporary directory, and etcd, etcdctl and reconfig get free loopback ports through their
 * variables (ETCD_*, ETCDCTL_ENDPOINTS, RECONFIG_ENDPOINTS), since 2379 may be taken on a shared machine.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { freePort } from '../support/etcd';
import { ROOT, blocks, type Block } from './markdown';

type Step =
  | { kind: 'run'; block: Block; until?: 'succeeds' | 'output'; expect?: string; afterStop?: boolean }
  | { kind: 'terminal'; block: Block; ready?: string }
  | { kind: 'setup'; block: Block };

/** The README's walk-through as steps; an output block belongs to the step before it. */
export function steps(readme: string): Step[] {
  const out: Step[] = [];
  for (const b of blocks(readme)) {
    const note = b.note;
    if (note === undefined || !note.startsWith('walkthrough')) continue;
    const what = note.slice('walkthrough'.length).replace(/^:\s*/, '');
    const at = `README.md:${b.line}`;
    const last = out[out.length - 1];
    if (what === 'output') {
      if (last?.kind !== 'run' || last.expect !== undefined) throw new Error(`${at}: an output block must follow a command`);
      last.expect = b.body;
    } else if (what === '') out.push({ kind: 'run', block: b });
    else if (what === 'in the clone') out.push({ kind: 'setup', block: b });
    else if (what === 'until it succeeds') out.push({ kind: 'run', block: b, until: 'succeeds' });
    else if (what === 'until it prints this') out.push({ kind: 'run', block: b, until: 'output' });
    else if (what === 'after stopping the terminals') out.push({ kind: 'run', block: b, afterStop: true });
    else if (what.startsWith('terminal')) {
      const ready = /^terminal(?:, ready when the log says "([^"]+)")?$/.exec(what);
      if (!ready) throw new Error(`${at}: unknown walkthrough note: ${note}`);
      out.push({ kind: 'terminal', block: b, ready: ready[1] });
    } else throw new Error(`${at}: unknown walkthrough note: ${note}`);
  }
  for (const s of out) if (s.kind === 'run' && s.until === 'output' && s.expect === undefined) throw new Error(`README.md:${s.block.line}: "until it prints this" needs an output block`);
  return out;
}

/** One bash that reads commands from its stdin, like a terminal: cd, aliases and variables carry over. */
class Shell {
  private out = '';
  private err = '';
  private n = 0;
  private readonly child: ChildProcess;
  private readonly closed: Promise<void>;

  constructor(env: NodeJS.ProcessEnv) {
    this.child = spawn('bash', ['--noprofile', '--norc'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (c: Buffer) => (this.out += c.toString()));
    this.child.stderr!.on('data', (c: Buffer) => (this.err += c.toString()));
    this.closed = new Promise((resolve) => this.child.on('close', () => resolve()));
    this.child.stdin!.write('shopt -s expand_aliases\n');
  }

  /**
   * Runs `script` and gives its stdout and exit code. A block stops at its first failing command (set -e in a
   * subshell when `isolated`, which also keeps a retried block from changing the shell's directory).
   */
  async run(script: string, isolated: boolean): Promise<{ code: number; stdout: string; stderr: string }> {
    const mark = `__walkthrough_${++this.n}__`;
    const errFrom = this.err.length;
    const body = isolated ? `(set -e\n${script}\n)` : `set -e\n${script}\nset +e`;
    this.out = '';
    this.child.stdin!.write(`${body}\nprintf '\\n${mark}%s\\n' "$?"\n`);
    const done = new RegExp(`\\n${mark}(\\d+)\\n$`);
    for (;;) {
      const m = done.exec(this.out);
      if (m) return { code: Number(m[1]), stdout: this.out.slice(0, m.index), stderr: this.err.slice(errFrom) };
      if (this.child.exitCode !== null) return { code: this.child.exitCode, stdout: this.out, stderr: this.err.slice(errFrom) };
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(): Promise<void> {
    this.child.stdin!.end('exit\n');
    await this.closed;
  }
}

/** A `terminal` block: its own bash and process group, stopped with Ctrl-C's SIGINT. */
class Terminal {
  output = '';
  private readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(setup: string, script: string, env: NodeJS.ProcessEnv) {
    const body = `set -e\nshopt -s expand_aliases\n${setup}\n${script}\n`;
    this.child = spawn('bash', ['--noprofile', '--norc', '-c', body], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const s of [this.child.stdout!, this.child.stderr!]) s.on('data', (c: Buffer) => (this.output += c.toString()));
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      process.kill(-this.child.pid!, sig);
    } catch {
      // the group is gone already
    }
  }

  async stop(): Promise<void> {
    this.signal('SIGINT');
    const t = setTimeout(() => this.signal('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(t);
  }
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("the README's first target works as written, against a real etcd", async () => {
  const all = steps(readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
  assert.ok(all.filter((s) => s.kind === 'terminal').length >= 2 && all.filter((s) => s.kind === 'run' && s.expect).length >= 4, 'the walkthrough lost its blocks');
  const setup = all.flatMap((s) => (s.kind === 'setup' ? [s.block.body] : [])).join('\n');
  assert.match(setup, /alias reconfig=/, 'the README no longer says how to run reconfig from a clone');

  const home = mkdtempSync(path.join(os.tmpdir(), 'reconfig-walkthrough-'));
  const [client, peer] = [await freePort(), await freePort()];
  const url = (p: number): string => `http://127.0.0.1:${p}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    ETCD_LISTEN_CLIENT_URLS: url(client),
    ETCD_ADVERTISE_CLIENT_URLS: url(client),
    ETCD_LISTEN_PEER_URLS: url(peer),
    ETCD_INITIAL_ADVERTISE_PEER_URLS: url(peer),
    ETCD_INITIAL_CLUSTER: `default=${url(peer)}`,
    ETCDCTL_ENDPOINTS: url(client),
    RECONFIG_ENDPOINTS: url(client),
  };
  const shell = new Shell(env);
  const terminals: Terminal[] = [];
  const shown = (s: string): string => s.split(home).join('~');
  try {
    for (const s of all) {
      const at = `README.md:${s.block.line}`;
      if (s.kind === 'setup') {
        const r = await shell.run(s.block.body, false);
        assert.equal(r.code, 0, `${at}: exit ${r.code}\n${r.stderr}`);
        continue;
      }
      if (s.kind === 'terminal') {
        const t = new Terminal(setup, s.block.body, env);
        terminals.push(t);
        if (s.ready !== undefined) {
          const ready = s.ready;
          await until(`${at}: "${ready}"`, () => {
            if (!t.running) throw new Error(`${at}: the terminal's command ended:\n${t.output}`);
            return t.output.includes(ready) ? true : undefined;
          });
        }
        continue;
      }
      if (s.afterStop) for (const t of terminals) await t.stop();
      if (s.until) {
        let last = { code: -1, stdout: '', stderr: '' };
        const wanted = s.until === 'succeeds' ? 'succeed' : 'print its output';
        await until(`${at} to ${wanted}`, async () => {
          last = await shell.run(s.block.body, true);
          const ok = last.code === 0 && (s.until === 'succeeds' || shown(last.stdout) === `${s.expect}\n`);
          return ok ? true : undefined;
        }).catch((e: unknown) => {
          throw new Error(`${errorText(e)}; last: exit ${last.code}, stdout ${JSON.stringify(last.stdout)}, stderr ${JSON.stringify(last.stderr)}`, { cause: e });
        });
        continue;
      }
      const r = await shell.run(s.block.body, false);
      assert.equal(r.code, 0, `${at}: exit ${r.code}\n${r.stderr}`);
      if (s.expect !== undefined) assert.equal(shown(r.stdout), `${s.expect}\n`, `${at}: stdout differs from the README`);
    }
    for (const t of terminals) assert.equal(t.running, false, 'a terminal was never stopped');
  } finally {
    await shell.close();
    for (const t of terminals) if (t.running) await t.stop();
    rmSync(home, { recursive: true, force: true });
  }
});

/**
 * `npm run demo`: a throwaway etcd on loopback, example keys, the agent on the repo's conf.d/ and templates/
 * writing into a temp dir, a few changes to watch it follow, then everything cleaned up.
 * `npm run demo -- --tls`: the same over TLS with client certificates, from a PKI made by certs/make-certs.sh.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EtcdServer } from './etcd-server';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function onPath(bin: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(path.join(d, bin)));
}

async function until(what: string, fn: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`demo: timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * The agent's log lines, held until the narration reaches them: each step waits for the lines it is about
 * (waitForAgent), then prints them under its own heading, so the output reads in order.
 */
class AgentLog {
  private readonly lines: Array<Record<string, unknown>> = [];
  private printed = 0;
  private partial = '';

  feed(chunk: Buffer): void {
    const parts = (this.partial + chunk.toString()).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts.filter(Boolean)) {
      try {
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        this.lines.push({ level: 'raw', msg: line });
      }
    }
  }

  /** Waits for a line not printed yet that matches, then prints every line up to and including it. */
  async waitFor(what: string, pred: (l: Record<string, unknown>) => boolean): Promise<void> {
    let at = -1;
    await until(what, () => (at = this.lines.findIndex((l, i) => i >= this.printed && pred(l))) >= 0);
    this.flush(at + 1);
  }

  flush(upTo = this.lines.length): void {
    for (const l of this.lines.slice(this.printed, upTo)) {
      const extra = ['target', 'revision', 'changed', 'reloaded', 'err'].filter((k) => l[k] !== undefined).map((k) => `${k}=${String(l[k])}`);
      process.stdout.write(`    [agent] ${String(l.level).padEnd(5)} ${String(l.msg)} ${extra.join(' ')}\n`);
    }
    this.printed = Math.max(this.printed, upTo);
  }
}

async function main(): Promise<void> {
  // The demo's own etcd client over TLS: grpc-js sets the TLS server name to 127.0.0.1, and Node warns (DEP0123)
  // about a name that is an address. The agent silences the same notice; it means nothing to the reader.
  process.noDeprecation = true;
  const cfg = mkdtempSync(path.join(os.tmpdir(), 'reconfig-demo-'));
  // varnishd -C drops root for its own user, which must be able to reach the staged file.
  chmodSync(cfg, 0o755);
  const tls = process.argv.includes('--tls');
  console.log(bold(`1. Starting a throwaway etcd on loopback${tls ? ' with TLS and client certificates' : ''}; the demo writes into ${cfg}`));
  let connect: string[] = [];
  let etcd: EtcdServer;
  if (tls) {
    const certs = path.join(cfg, 'certs');
    execFileSync('bash', [path.join(ROOT, 'certs', 'make-certs.sh'), certs], { stdio: 'inherit' });
    etcd = await EtcdServer.start({ tls: { dir: certs, clientCertAuth: true } });
    connect = ['--ssl', '--ssl_cafile', path.join(certs, 'ca.pem'), '--ssl_cert', path.join(certs, 'client.pem'), '--ssl_key', path.join(certs, 'client.key')];
  } else {
    etcd = await EtcdServer.start();
  }
  connect = ['--endpoints', etcd.url, ...connect];
  const client = etcd.client();
  const agentStop: Array<() => Promise<void>> = [];
  try {
    console.log(`   etcd is at ${etcd.url}`);
    cpSync(path.join(ROOT, 'conf.d'), path.join(cfg, 'conf.d'), { recursive: true });
    cpSync(path.join(ROOT, 'templates'), path.join(cfg, 'templates'), { recursive: true });
    // The pgbouncer example follows a Patroni cluster, which the demo does not run.
    rmSync(path.join(cfg, 'conf.d', 'pgbouncer.json'));
    for (const [bin, file] of [['haproxy', 'haproxy.json'], ['varnishd', 'varnish.json'], ['nginx', 'nginx.json']] as const) {
      if (onPath(bin)) continue;
      const f = path.join(cfg, 'conf.d', file);
      const t = JSON.parse(readFileSync(f, 'utf8')) as { checkcmd?: string };
      console.log(`   (${bin} is not installed: the demo drops ${file}'s checkcmd \`${t.checkcmd ?? ''}\`)`);
      delete t.checkcmd;
      writeFileSync(f, JSON.stringify(t, null, 2));
    }

    console.log(bold('\n2. Seeding example keys'));
    const seed: Array<[string, string]> = [
      ['/services/web/backends/web1', '10.0.0.11:8080'],
      ['/services/web/backends/web2', '10.0.0.12:8080'],
      ['/services/cache/backends/cache1', '{"host": "10.0.1.21", "port": 6081}'],
      ['/services/api/backends/api1', '10.0.2.31:9000'],
    ];
    for (const [k, v] of seed) {
      await client.put(k).value(v);
      console.log(`   put ${k} = ${v}`);
    }

    console.log(bold(`\n3. Starting the agent: reconfig -c <tmp> ${connect.join(' ').replaceAll(cfg, '<tmp>')}`));
    const agent = spawn(process.execPath, [CLI, '-c', cfg, ...connect], { stdio: ['ignore', 'inherit', 'pipe'] });
    const agentLog = new AgentLog();
    agent.stderr.on('data', (c: Buffer) => agentLog.feed(c));
    const exited = new Promise<number | null>((r) => agent.on('exit', (code) => r(code)));
    agentStop.push(async () => {
      agent.kill('SIGTERM');
      await exited;
      agentLog.flush();
    });
    const haproxyCfg = path.join(cfg, 'out', 'haproxy.cfg');
    const read = (): string => (existsSync(haproxyCfg) ? readFileSync(haproxyCfg, 'utf8') : '');
    await agentLog.waitFor('the first full apply', (l) => String(l.msg).startsWith('first full apply done'));
    const backends = (): string => read().slice(read().lastIndexOf('backend web')).trimEnd().replace(/^/gm, '   |');
    console.log(`\n   ${haproxyCfg}, backend section:`);
    console.log(backends());

    console.log(bold('\n4. A backend comes and one goes'));
    await client.put('/services/web/backends/web3').value('10.0.0.13:8080');
    const deleted = Number((await client.delete().key('/services/web/backends/web1')).header.revision);
    console.log('   put /services/web/backends/web3 = 10.0.0.13:8080; delete /services/web/backends/web1');
    // The put and the delete may apply together or one after the other: wait for the apply that has both.
    await agentLog.waitFor('the re-render', (l) => l.target === 'haproxy' && l.msg === 'applied' && Number(l.revision) >= deleted);
    console.log(backends());

    console.log(bold('\n5. Previewing a change without applying it: reconfig --onetime --notreally'));
    await agentStop.pop()!();
    await client.put('/services/web/backends/web4').value('10.0.0.14:8080');
    console.log('   (agent stopped) put /services/web/backends/web4 = 10.0.0.14:8080');
    const preview = spawn(process.execPath, [CLI, '-c', cfg, ...connect, '--onetime', '--notreally'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    preview.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise((r) => preview.on('exit', r));
    console.log(out.trimEnd().replace(/^/gm, '   '));
    console.log(`\n   Files in ${path.join(cfg, 'out')}: ${readdirSync(path.join(cfg, 'out')).join(', ')}`);
  } finally {
    for (const stop of agentStop) await stop();
    client.close();
    await etcd.stop();
    rmSync(cfg, { recursive: true, force: true });
    console.log(bold('\n6. Cleaned up: etcd stopped, temp dir removed.'));
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});

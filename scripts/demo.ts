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

/** Prints the agent's JSON log lines as short lines for people. */
function relayLogs(chunk: Buffer): void {
  for (const line of chunk.toString().split('\n').filter(Boolean)) {
    try {
      const l = JSON.parse(line) as Record<string, unknown>;
      const extra = ['target', 'revision', 'changed', 'reloaded', 'err'].filter((k) => l[k] !== undefined).map((k) => `${k}=${String(l[k])}`);
      process.stdout.write(`    [agent] ${String(l.level).padEnd(5)} ${String(l.msg)} ${extra.join(' ')}\n`);
    } catch {
      process.stdout.write(`    [agent] ${line}\n`);
    }
  }
}

async function main(): Promise<void> {
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
    agent.stderr.on('data', relayLogs);
    const exited = new Promise<number | null>((r) => agent.on('exit', (code) => r(code)));
    agentStop.push(async () => {
      agent.kill('SIGTERM');
      await exited;
    });
    const haproxyCfg = path.join(cfg, 'out', 'haproxy.cfg');
    const read = (): string => (existsSync(haproxyCfg) ? readFileSync(haproxyCfg, 'utf8') : '');
    await until('the first render', () => read().includes('web2'));
    const backends = (): string => read().slice(read().lastIndexOf('backend web')).trimEnd().replace(/^/gm, '   |');
    console.log(`\n   ${haproxyCfg}, backend section:`);
    console.log(backends());

    console.log(bold('\n4. A backend comes and one goes'));
    await client.put('/services/web/backends/web3').value('10.0.0.13:8080');
    await client.delete().key('/services/web/backends/web1');
    console.log('   put /services/web/backends/web3 = 10.0.0.13:8080; delete /services/web/backends/web1');
    await until('the re-render', () => read().includes('web3') && !read().includes('web1'));
    await sleep(200);
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

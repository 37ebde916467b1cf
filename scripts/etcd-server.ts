/**
 * A throwaway etcd for the demo and the tests: free loopback ports, a temporary data directory. It can be
 * killed with -9, restarted on the same ports and data, and asked for its /metrics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { etcdBinary } from './etcd-binary';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Client-side TLS material for talking to a TLS etcd (its CA, a client certificate and key). */
export interface ClientTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface ServerOptions {
  /** Extra etcd flags. */
  extraArgs?: string[];
  /**
   * Serve clients over TLS from a directory made by certs/make-certs.sh (server.pem/server.key, ca.pem),
   * optionally requiring client certificates signed by that CA.
   */
  tls?: { dir: string; clientCertAuth?: boolean };
}

/** One member's place in a cluster: its name and ports, and the whole cluster's peer list. */
interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
  initialCluster: string;
}

function get(url: string, tls?: ClientTls): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const opts = { timeout: 1000, ...(tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : {}) };
    const req = (url.startsWith('https:') ? https : http).get(url, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export class EtcdServer {
  proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  /** The client-side TLS material when the server speaks TLS. */
  readonly clientTls: ClientTls | undefined;

  private constructor(
    private readonly member: Member,
    readonly dataDir: string,
    private readonly opts: ServerOptions,
  ) {
    const dir = opts.tls?.dir;
    this.clientTls = dir
      ? {
          ca: readFileSync(path.join(dir, 'ca.pem')),
          cert: readFileSync(path.join(dir, 'client.pem')),
          key: readFileSync(path.join(dir, 'client.key')),
        }
      : undefined;
  }

  /** A single-member etcd. `opts` may be a list of extra flags, for short. */
  static async start(opts: ServerOptions | string[] = {}): Promise<EtcdServer> {
    const o = Array.isArray(opts) ? { extraArgs: opts } : opts;
    // A free port is free when asked, not when etcd binds it: another process (tests run in parallel) may take
    // it in between. Then etcd exits with "address already in use", and new ports are tried.
    for (let attempt = 1; ; attempt++) {
      const clientPort = await freePort();
      const peerPort = await freePort();
      const s = EtcdServer.create({ name: 'test', clientPort, peerPort, initialCluster: `test=http://127.0.0.1:${peerPort}` }, o);
      try {
        await s.launch();
        return s;
      } catch (err) {
        rmSync(s.dataDir, { recursive: true, force: true });
        if (attempt >= 3 || !String((err as Error).message).includes('address already in use')) throw err;
      }
    }
  }

  /** A member of a cluster, not yet started (see EtcdCluster). */
  static create(member: Member, opts: ServerOptions = {}): EtcdServer {
    return new EtcdServer(member, mkdtempSync(path.join(os.tmpdir(), 'reconfig-etcd-')), opts);
  }

  get name(): string {
    return this.member.name;
  }

  get clientPort(): number {
    return this.member.clientPort;
  }

  get url(): string {
    return `${this.opts.tls ? 'https' : 'http'}://127.0.0.1:${this.member.clientPort}`;
  }

  get running(): boolean {
    return this.proc !== null;
  }

  async launch(): Promise<void> {
    const peer = `http://127.0.0.1:${this.member.peerPort}`;
    const tls = this.opts.tls;
    const tlsArgs = tls
      ? [
          '--cert-file', path.join(tls.dir, 'server.pem'),
          '--key-file', path.join(tls.dir, 'server.key'),
          ...(tls.clientCertAuth ? ['--client-cert-auth', '--trusted-ca-file', path.join(tls.dir, 'ca.pem')] : []),
        ]
      : [];
    const proc = spawn(
      etcdBinary(),
      [
        '--name', this.member.name,
        '--data-dir', this.dataDir,
        '--listen-client-urls', this.url,
        '--advertise-client-urls', this.url,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', this.member.initialCluster,
        '--logger', 'zap',
        '--log-level', 'error',
        ...tlsArgs,
        ...(this.opts.extraArgs ?? []),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`etcd exited ${proc.exitCode}: ${stderr}`);
      try {
        const res = await get(`${this.url}/health`, this.clientTls);
        if (res.status === 200 && res.body.includes('true')) return;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error(`etcd did not become healthy on ${this.url}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** kill -9, as a crash would. */
  async kill9(): Promise<void> {
    this.proc?.kill('SIGKILL');
    await this.exited;
    this.proc = null;
  }

  /** Starts again on the same ports and data directory. */
  async restart(): Promise<void> {
    if (this.proc) await this.kill9();
    await this.launch();
  }

  async metric(name: string): Promise<number> {
    const { body } = await get(`${this.url}/metrics`, this.clientTls);
    const line = body.split('\n').find((l) => l.startsWith(`${name} `));
    if (!line) throw new Error(`metric ${name} not found`);
    return Number(line.split(' ')[1]);
  }

  /** A client for the test itself (TLS and password auth when given). */
  client(auth?: { username: string; password: string }): Etcd3 {
    const tls = this.clientTls;
    return new Etcd3({
      hosts: this.url,
      ...(tls ? { credentials: { rootCertificate: tls.ca, certChain: tls.cert, privateKey: tls.key } } : {}),
      ...(auth ? { auth } : {}),
    });
  }

  /** Turns on password auth with a root user holding the root role, as an operator would. */
  async enableAuth(rootPassword: string): Promise<void> {
    const c = this.client();
    try {
      await c.role('root').create().catch(() => undefined); // etcd may have it already
      const user = await c.user('root').create(rootPassword);
      await user.addRole('root');
      await c.auth.authEnable();
    } finally {
      c.close();
    }
  }

  async stop(): Promise<void> {
    if (this.proc) {
      this.proc.kill('SIGTERM');
      await this.exited;
      this.proc = null;
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** A cluster of `size` members on loopback, for failover tests. */
export class EtcdCluster {
  private constructor(readonly members: EtcdServer[]) {}

  static async start(size = 3, opts: ServerOptions = {}): Promise<EtcdCluster> {
    const ports: Array<{ name: string; clientPort: number; peerPort: number }> = [];
    for (let i = 0; i < size; i++) ports.push({ name: `m${i}`, clientPort: await freePort(), peerPort: await freePort() });
    const initialCluster = ports.map((p) => `${p.name}=http://127.0.0.1:${p.peerPort}`).join(',');
    const members = ports.map((p) => EtcdServer.create({ ...p, initialCluster }, opts));
    // Members wait for each other before they report healthy, so they start together.
    await Promise.all(members.map((m) => m.launch()));
    return new EtcdCluster(members);
  }

  get urls(): string[] {
    return this.members.map((m) => m.url);
  }

  /** The member that leads now, from each member's own /metrics. */
  async leader(): Promise<EtcdServer> {
    for (const m of this.members) {
      if (m.running && (await m.metric('etcd_server_is_leader')) === 1) return m;
    }
    throw new Error('no leader');
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.stop()));
  }
}

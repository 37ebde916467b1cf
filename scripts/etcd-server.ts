/**
 * A throwaway etcd for the demo and the tests: free loopback ports, a temporary data directory. It can be
 * killed with -9, restarted on the same ports and data, and asked for its /metrics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
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

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 1000 }, (res) => {
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

  private constructor(
    readonly clientPort: number,
    readonly peerPort: number,
    readonly dataDir: string,
    private readonly extraArgs: string[],
  ) {}

  static async start(extraArgs: string[] = []): Promise<EtcdServer> {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'reconfig-etcd-'));
    const s = new EtcdServer(await freePort(), await freePort(), dataDir, extraArgs);
    await s.launch();
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  private async launch(): Promise<void> {
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const proc = spawn(
      etcdBinary(),
      [
        '--name', 'test',
        '--data-dir', this.dataDir,
        '--listen-client-urls', this.url,
        '--advertise-client-urls', this.url,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `test=${peer}`,
        '--logger', 'zap',
        '--log-level', 'error',
        ...this.extraArgs,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`etcd exited ${proc.exitCode}: ${stderr}`);
      try {
        const res = await get(`${this.url}/health`);
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
    const { body } = await get(`${this.url}/metrics`);
    const line = body.split('\n').find((l) => l.startsWith(`${name} `));
    if (!line) throw new Error(`metric ${name} not found`);
    return Number(line.split(' ')[1]);
  }

  client(): Etcd3 {
    return new Etcd3({ hosts: this.url });
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

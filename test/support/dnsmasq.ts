/**
 * A real DNS server for SRV tests: Debian's dnsmasq on a free loopback port, authoritative for reconfig.test
 * (unknown names there are NXDOMAIN), answering only the records it is given. It can be restarted with new ones.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from './etcd';
import { stopProcess, tempDir, waitFor } from './util';
import { DnsClient, NoSuchName } from '../../src/etcd/discovery/dns';

export interface SrvSpec {
  name: string;
  target: string;
  port: number;
  priority?: number;
  weight?: number;
}

export interface Records {
  srv?: SrvSpec[];
  hosts?: Record<string, string>;
  /** Names that exist with only a TXT record (so an SRV question gets an empty answer). */
  txt?: string[];
}

export class Dnsmasq {
  private proc: ChildProcess | null = null;
  private readonly dir = tempDir('reconfig-dnsmasq-');

  private constructor(readonly port: number) {}

  static async start(records: Records): Promise<Dnsmasq> {
    const d = new Dnsmasq(await freePort());
    await d.launch(records);
    return d;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  private async launch(records: Records): Promise<void> {
    const args = [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--no-poll',
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      `--port=${this.port}`,
      `--pid-file=${path.join(this.dir, 'pid')}`,
      '--local=/reconfig.test/',
      ...(records.srv ?? []).map((s) => `--srv-host=${s.name},${s.target},${s.port},${s.priority ?? 0},${s.weight ?? 0}`),
      ...Object.entries(records.hosts ?? {}).map(([name, ip]) => `--host-record=${name},${ip}`),
      ...(records.txt ?? []).map((name) => `--txt-record=${name},present`),
    ];
    const proc = spawn('dnsmasq', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    this.proc = proc;
    const probe = new DnsClient([{ host: '127.0.0.1', port: this.port }], 300);
    await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`dnsmasq exited ${proc.exitCode}: ${stderr}`);
      // Any answer, even "no such name", means it is serving.
      await probe.query('up.reconfig.test', 'A').catch((err: Error) => {
        if (!(err instanceof NoSuchName)) throw err;
      });
      return true;
    }, `dnsmasq on ${this.address}`);
  }

  /** Serves a new set of records on the same port, as when a cluster's records change. */
  async replace(records: Records): Promise<void> {
    await this.stop();
    await this.launch(records);
  }

  async stop(): Promise<void> {
    if (this.proc) await stopProcess(this.proc);
    this.proc = null;
  }
}

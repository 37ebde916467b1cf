/**
 * A real two-node Patroni cluster (Debian's patroni, postgresql-15) and a real pgbouncer on loopback, all run
 * as the postgres user (both refuse root), against a test etcd. Settings follow docs/testing-patroni.md.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './etcd';
import { stopProcess, tempDir, waitFor } from './util';

const BIN_DIR = '/usr/lib/postgresql/15/bin';

function postgresIds(): { uid: number; gid: number } {
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** A directory the postgres user owns. */
export function postgresDir(name: string): string {
  const dir = tempDir(`reconfig-${name}-`);
  const { uid, gid } = postgresIds();
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o755);
  return dir;
}

function asPostgres(cmd: string, args: string[]): ChildProcess {
  return spawn('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

export function runAsPostgres(cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('runuser', ['-u', 'postgres', '--', cmd, ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

export interface PatroniNode {
  name: string;
  pgPort: number;
  config: string;
  proc: ChildProcess;
  log: string;
}

export class PatroniCluster {
  readonly nodes: PatroniNode[] = [];

  private constructor(
    readonly dir: string,
    readonly scope: string,
    private readonly etcdPort: number,
  ) {}

  static create(etcdPort: number, scope = 'demo'): PatroniCluster {
    return new PatroniCluster(postgresDir('patroni'), scope, etcdPort);
  }

  /** Starts node `name`; resolves once it runs (it does not wait for a role). */
  async start(name: string): Promise<PatroniNode> {
    const pgPort = await freePort();
    const apiPort = await freePort();
    const home = path.join(this.dir, name);
    mkdirSync(path.join(home, 'sock'), { recursive: true });
    const { uid, gid } = postgresIds();
    for (const d of [home, path.join(home, 'sock')]) {
      chownSync(d, uid, gid);
      chmodSync(d, 0o700);
    }
    const config = path.join(this.dir, `${name}.yml`);
    // JSON is YAML: Patroni reads this as its YAML configuration.
    writeFileSync(
      config,
      JSON.stringify({
        scope: this.scope,
        namespace: '/service/',
        name,
        restapi: { listen: `127.0.0.1:${apiPort}`, connect_address: `127.0.0.1:${apiPort}` },
        etcd3: { hosts: `127.0.0.1:${this.etcdPort}` },
        bootstrap: {
          dcs: { ttl: 20, loop_wait: 2, retry_timeout: 5, postgresql: { use_pg_rewind: true, parameters: { wal_level: 'replica', hot_standby: 'on' } } },
          initdb: [{ encoding: 'UTF8' }, 'data-checksums'],
          pg_hba: ['host all all 127.0.0.1/32 trust', 'host replication all 127.0.0.1/32 trust', 'local all all trust'],
        },
        postgresql: {
          listen: `127.0.0.1:${pgPort}`,
          connect_address: `127.0.0.1:${pgPort}`,
          data_dir: path.join(home, 'data'),
          bin_dir: BIN_DIR,
          pgpass: path.join(home, 'pgpass'),
          authentication: {
            superuser: { username: 'postgres', password: 'postgres' },
            replication: { username: 'replicator', password: 'replicator' },
            rewind: { username: 'rewinder', password: 'rewinder' },
          },
          parameters: { unix_socket_directories: path.join(home, 'sock') },
        },
      }),
    );
    chownSync(config, uid, gid);
    const proc = asPostgres('patroni', [config]);
    const node: PatroniNode = { name, pgPort, config, proc, log: '' };
    const keep = (c: Buffer): void => {
      node.log = (node.log + c.toString()).slice(-8000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    this.nodes.push(node);
    return node;
  }

  /** SQL through psql as postgres, on `port` (a node, or pgbouncer in front of one). */
  static async sql(port: number, query: string, db = 'postgres'): Promise<string> {
    const out = await runAsPostgres('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', db, '-Atc', query]);
    return out.trim();
  }

  async switchover(from: string, to: string): Promise<void> {
    await runAsPostgres('patronictl', ['-c', this.nodes[0].config, 'switchover', '--leader', from, '--candidate', to, '--force'], 60_000);
  }

  async waitReady(node: PatroniNode, what: string, timeoutMs = 60_000): Promise<void> {
    await waitFor(async () => {
      if (node.proc.exitCode !== null) throw new Error(`patroni ${node.name} exited: ${node.log}`);
      return (await PatroniCluster.sql(node.pgPort, 'select 1').catch(() => '')) === '1';
    }, `${what}\n--- patroni ${node.name}:\n${node.log.slice(-3000)}`, timeoutMs);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.nodes.map((n) => stopProcess(n.proc, 'SIGTERM', 20_000)),
    );
    // Patroni's postgres children exit with it on SIGTERM; anything left behind is killed by its data dir.
    await new Promise((r) => execFile('pkill', ['-9', '-f', this.dir], () => r(undefined)));
  }
}

/** pgbouncer as postgres, in front of whatever `%include`d databases file reconfig writes. */
export class Pgbouncer {
  private constructor(
    readonly port: number,
    readonly pidfile: string,
    private readonly proc: ChildProcess,
    private log: { text: string },
  ) {}

  static async start(dir: string, databasesFile: string): Promise<Pgbouncer> {
    const port = await freePort();
    const { uid, gid } = postgresIds();
    const pidfile = path.join(dir, 'pgbouncer.pid');
    const users = path.join(dir, 'userlist.txt');
    writeFileSync(users, '"postgres" ""\n');
    const ini = path.join(dir, 'pgbouncer.ini');
    writeFileSync(
      ini,
      [
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        `unix_socket_dir = ${dir}`,
        'auth_type = trust',
        `auth_file = ${users}`,
        `pidfile = ${pidfile}`,
        'admin_users = postgres',
        'pool_mode = session',
        'server_check_delay = 0',
        `%include ${databasesFile}`,
        '',
      ].join('\n'),
    );
    for (const f of [users, ini]) chownSync(f, uid, gid);
    const log = { text: '' };
    const proc = asPostgres('pgbouncer', [ini]);
    proc.stdout?.on('data', (c: Buffer) => (log.text += c.toString()));
    proc.stderr?.on('data', (c: Buffer) => (log.text += c.toString()));
    const b = new Pgbouncer(port, pidfile, proc, log);
    await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`pgbouncer exited: ${log.text}`);
      return (await PatroniCluster.sql(port, 'show version', 'pgbouncer').catch(() => '')) !== '';
    }, `pgbouncer on ${port}: ${log.text}`);
    return b;
  }

  get output(): string {
    return this.log.text;
  }

  async stop(): Promise<void> {
    await stopProcess(this.proc);
  }
}

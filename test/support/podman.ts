/**
 * A real Docker Engine API for tests: Debian's podman serving its Docker-compatible API on a Unix socket, with
 * the settings docs/testing-podman.md found this sandbox needs (runc, cgroupfs, file events, a private
 * store), and a busybox image built from local files (no registry is reachable).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stopProcess, tempDir, waitFor } from './util';

export const IMAGE = 'local/mini';

export class Podman {
  private service: ChildProcess | null = null;

  private constructor(
    readonly dir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  get socket(): string {
    return path.join(this.dir, 'podman.sock');
  }

  static async start(): Promise<Podman> {
    const dir = tempDir('reconfig-podman-');
    for (const d of ['tmp', 'netcfg', 'rootfs/bin', 'rootfs/www']) mkdirSync(path.join(dir, d), { recursive: true });
    writeFileSync(
      path.join(dir, 'containers.conf'),
      [
        '[containers]',
        'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
        '[engine]',
        'runtime = "runc"',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `tmp_dir = "${dir}/tmp"`,
        `network_config_dir = "${dir}/netcfg"`,
        '',
      ].join('\n'),
    );
    writeFileSync(path.join(dir, 'storage.conf'), `[storage]\ndriver = "overlay"\ngraphroot = "${dir}/storage"\nrunroot = "${dir}/run"\n`);
    const env = { ...process.env, CONTAINERS_CONF: path.join(dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: path.join(dir, 'storage.conf') };
    const p = new Podman(dir, env);
    copyFileSync('/bin/busybox', path.join(dir, 'rootfs/bin/busybox'));
    chmodSync(path.join(dir, 'rootfs/bin/busybox'), 0o755);
    for (const c of ['sh', 'sleep', 'httpd', 'echo', 'cat', 'trap']) symlinkSync('busybox', path.join(dir, 'rootfs/bin', c));
    writeFileSync(path.join(dir, 'rootfs/www/index.html'), 'hi\n');
    await p.shell(`tar -C ${dir}/rootfs -c . | podman import --change 'CMD ["/bin/sh"]' - ${IMAGE}`);
    await p.serve();
    return p;
  }

  private async serve(): Promise<void> {
    this.service = spawn('podman', ['system', 'service', '--time=0', `unix://${this.socket}`], { env: this.env, stdio: 'ignore' });
    await waitFor(async () => (await this.podman(['--url', `unix://${this.socket}`, 'info', '--format', '{{.Version.Version}}']).catch(() => '')) !== '', 'the podman API');
  }

  /** Kills the API service (the engine's containers keep running): clients see their event stream break. */
  async killService(): Promise<void> {
    if (this.service) await stopProcess(this.service, 'SIGKILL');
    this.service = null;
  }

  async restartService(): Promise<void> {
    await this.killService();
    await this.serve();
  }

  /** Runs podman with this store's configuration; resolves to its stdout. */
  podman(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile('podman', args, { env: this.env, timeout: 60_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`podman ${args.join(' ')}: ${err.message}\n${stderr}`));
        else resolve(stdout.trim());
      });
    });
  }

  private shell(cmd: string): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile('sh', ['-c', cmd], { env: this.env, timeout: 60_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${cmd}: ${err.message}\n${stderr}`));
        else resolve(stdout.trim());
      });
    });
  }

  /** Starts a container from the busybox image; `cmd` runs under /bin/sh -c. */
  run(name: string, opts: { labels?: Record<string, string>; env?: Record<string, string>; ports?: string[]; cmd?: string } = {}): Promise<string> {
    const args = ['run', '-d', '--name', name];
    for (const [k, v] of Object.entries(opts.labels ?? {})) args.push('-l', `${k}=${v}`);
    for (const [k, v] of Object.entries(opts.env ?? {})) args.push('-e', `${k}=${v}`);
    for (const p of opts.ports ?? []) args.push('-p', p);
    args.push(IMAGE, '/bin/sh', '-c', opts.cmd ?? 'exec /bin/busybox httpd -f -p 80 -h /www');
    return this.podman(args);
  }

  async stop(): Promise<void> {
    await this.podman(['rm', '-f', '-a', '-t', '0']).catch(() => '');
    this.service?.kill('SIGTERM');
    await this.podman(['system', 'reset', '-f']).catch(() => '');
  }
}

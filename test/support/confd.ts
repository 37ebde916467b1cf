/**
 * The real confd for the import's comparison tests (test/import/real-confd*.test.ts): CONFD_BIN names the binary
 * (scripts/build-confd.sh builds one from a confd source tree). Without it those tests are skipped, saying why.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';

export const CONFD_BIN = process.env.CONFD_BIN;

/** node:test's `skip` for a test that needs confd: false, or the reason. */
export const needsConfd: false | string = CONFD_BIN ? false : 'CONFD_BIN is not set: it names a confd binary to compare with (see docs/development.md)';

/** The variable the fixtures' `getenv` reads, and its value, the same for confd and for reconfig. */
export const FIXTURE_ENV = { name: 'RECONFIG_IMPORT_TEST_ENV', value: 'envval' } as const;

export interface ConfdRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `confd -onetime -backend etcdv3` on `confdir` against the etcd at `url`. Its environment is PATH and the
 * fixture variable only (no CONFD_* or ETCDCTL_* of ours reaches it); its config file is `configFile`, or one
 * that does not exist, so that /etc/confd/confd.toml stays out.
 */
export function runConfd(url: string, confdir: string, opts: { configFile?: string; args?: string[] } = {}): Promise<ConfdRun> {
  const bin = CONFD_BIN;
  if (!bin) throw new Error('runConfd: CONFD_BIN is not set');
  const configFile = opts.configFile ?? path.join(confdir, 'absent.toml');
  const argv = ['-onetime', '-backend', 'etcdv3', '-node', url, '-confdir', confdir, '-config-file', configFile, ...(opts.args ?? [])];
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', [FIXTURE_ENV.name]: FIXTURE_ENV.value };
  return new Promise((resolve) => {
    execFile(bin, argv, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

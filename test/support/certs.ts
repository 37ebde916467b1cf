/** The development PKI from certs/make-certs.sh, made once per test process into a temporary directory. */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { tempDir } from './util';

export const PASSPHRASE = 'test-passphrase';
const SCRIPT = path.resolve(__dirname, '..', '..', '..', 'certs', 'make-certs.sh');

let made: string | undefined;

/** The directory holding ca.pem, server.pem/.key, client.pem/.key, client-enc.key, other-ca.pem, rogue-client.pem/.key. */
export function certsDir(): string {
  if (!made) {
    const dir = tempDir('reconfig-certs-');
    execFileSync('bash', [SCRIPT, dir], { env: { ...process.env, PASSPHRASE }, stdio: 'pipe' });
    made = dir;
  }
  return made;
}

export const cert = (name: string): string => path.join(certsDir(), name);

/**
 * The sidecar image (npm run package:image) as a user runs it: built with podman FROM a Debian 12 made here
 * by mmdebstrap (no registry is reachable), run on the host's network against a real etcd on loopback, with
 * its target and template given as RECONFIG_TARGET_/RECONFIG_TEMPLATE_ variables. The program under reconfig
 * is a shell script that prints the rendered file when it starts and on each SIGHUP; `podman stop` sends
 * reconfig SIGTERM, which the program must receive: it exits 42, and so must the container.
 *
 * It runs against the executable RECONFIG_E2E_BIN names (.ci/run builds one and sets it); without one it is
 * skipped, saying so, since building the executable and the image would add a minute to every run of the suite.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { E2E_BIN_ENV } from '../support/cli';
import { sharedEtcd, uniquePrefix } from '../support/etcd';
import { Podman } from '../support/podman';
import { LIST, waitFor } from '../support/util';

const REPO = path.resolve(__dirname, '..', '..', '..');
const shared = sharedEtcd();
const bin = process.env[E2E_BIN_ENV];
const skip = bin ? false : `needs the single executable: npm run package:bin, then ${E2E_BIN_ENV}=dist/bin/reconfig-<version>-linux-x64`;
let podman: Podman | undefined;
let storeEnv: NodeJS.ProcessEnv;

before(async () => {
  if (!bin) return;
  podman = await Podman.start();
  storeEnv = { ...process.env, CONTAINERS_CONF: path.join(podman.dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: path.join(podman.dir, 'storage.conf') };
});
after(() => podman?.stop());

function sh(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: REPO, env, timeout: 280_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`, { cause: err }));
      else resolve(stdout.trim());
    });
  });
}

/** Prints the file on start and on HUP (spaces for newlines), and exits 42 on TERM. */
const PROGRAM = [
  'show() { tr "\\n" " " < /tmp/demo.conf; }',
  'trap \'echo "hup: $(show)"\' HUP',
  'trap \'echo term; exit 42\' TERM',
  'echo "start: $(show)"',
  'while :; do sleep 1 & wait $!; done',
].join('\n');

test('the image runs a program under reconfig: renders, re-renders and signals it on a change, and passes SIGTERM on', { skip }, async () => {
  if (!bin || !podman) throw new Error('unreachable: the test is skipped without an executable');
  const executable = path.resolve(bin);
  const image = (await sh('bash', ['scripts/package-image.sh', '--local-base'], { ...storeEnv, RECONFIG_EXECUTABLE: executable })).split('\n').pop()!;
  assert.match(image, /^localhost\/reconfig:\d+\.\d+\.\d+/);

  const p = uniquePrefix('image');
  await shared.client.put(`${p}/app/color`).value('blue');
  const target = { id: 'demo', source: 'demo.ejs', target: '/tmp/demo.conf', key: '/app', recursive: true };
  const name = `reconfig-sidecar-${process.pid}`;
  const run = spawn(
    'podman',
    [
      'run', '--rm', '--name', name, '--network', 'host',
      '-e', `RECONFIG_ENDPOINTS=http://127.0.0.1:${shared.etcd.clientPort}`,
      '-e', `RECONFIG_PREFIX=${p}`,
      '-e', `RECONFIG_TARGET_demo=${JSON.stringify(target)}`,
      '-e', `RECONFIG_TEMPLATE_demo=demo.ejs\n${LIST}`,
      image, '/bin/sh', '-c', PROGRAM,
    ],
    { env: storeEnv, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  run.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  run.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => run.on('exit', (code) => resolve(code)));
  const seen = (): string => `\n--- program's output:\n${stdout}\n--- reconfig's log:\n${stderr.slice(-3000)}`;
  try {
    await waitFor(() => /^start: .*=blue $/m.test(stdout), `the program started on the first render${seen()}`, 60_000);
    await shared.client.put(`${p}/app/color`).value('green');
    await waitFor(() => /^hup: .*=green $/m.test(stdout), `SIGHUP after the change, with the new file${seen()}`, 30_000);
    await sh('podman', ['stop', '-t', '30', name], storeEnv);
    const code = await exited;
    assert.match(stdout, /^term$/m, `the program got SIGTERM${seen()}`);
    assert.equal(code, 42, `the container exits with the program's code${seen()}`);
    assert.equal(stdout.match(/^hup:/gm)?.length, 1, `one change, one signal${seen()}`);
  } finally {
    if (run.exitCode === null) {
      await sh('podman', ['rm', '-f', '-t', '0', name], storeEnv).catch(() => '');
      await exited;
    }
  }
});

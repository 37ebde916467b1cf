/** Waves under an operator's hand: `reconfig fleet halt`, `resume` and `promote`, and their usage errors. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../support/cli';
import { freePort, sharedEtcd, uniquePrefix } from '../support/etcd';
import { rolloutHosts } from '../support/rollout';
import { LIST, makeCfgdir, waitFor } from '../support/util';

const shared = sharedEtcd();
const { port, startHost, firstWith, put, report, stopAll } = rolloutHosts(shared);

/** The etcd revision of a key's last write, once `ok` holds for its value. */
async function written(key: string, ok: (value: unknown) => boolean, what: string): Promise<number> {
  return waitFor(async () => {
    const r = await shared.client.get(key).exec();
    const kv = r.kvs[0];
    return kv && ok(JSON.parse(kv.value.toString())) ? Number(kv.mod_revision) : undefined;
  }, what, 30_000);
}

test('halt holds the later waves even against a promote; resume lets them go; a wave with no live host waits until a promote', async () => {
  const p = uniquePrefix('wavectl');
  const control = (action: string, ...args: string[]): ReturnType<typeof runCli> => runCli(['fleet', action, ...args, '--port', port(), '--report', `${p}-fleet`]);
  await put(`${p}/app/k`, '1');
  const w0 = startHost(p, 'c0', 0, { bake: '1s' });
  const listen = `127.0.0.1:${await freePort()}`;
  const w1 = startHost(p, 'c1', 1, { bake: '1s', extra: ['-d', '--listen', listen] });
  try {
    await waitFor(() => firstWith(w1, '/app/k=1'), 'wave 1 to apply the first data', 60_000);
    const halt = await control('halt');
    assert.equal(halt.code, 0, halt.stderr);
    assert.match(halt.stdout, /^app: halted for waves 1 and up$/m);
    await waitFor(async () => (await report(p, 'c1'))?.targets.app?.message?.startsWith('halted by an operator'), 'c1 to report the halt', 30_000);
    // /healthz says why and stays 200; the metric says that it waits.
    const health = await fetch(`http://${listen}/healthz`);
    assert.equal(health.status, 200);
    assert.match((await health.json() as { targets: { app: { waiting?: string } } }).targets.app.waiting ?? '', /^halted by an operator/);
    assert.match(await (await fetch(`http://${listen}/metrics`)).text(), /^reconfig_target_waiting\{target="app"\} 1$/m);
    const rev = await put(`${p}/app/k`, '2');
    await waitFor(() => firstWith(w0, '/app/k=2'), 'wave 0 to apply k=2', 30_000);
    const proved = await written(`${p}-fleet/rollout/app`, (v) => ((v as { waves: Record<string, { proven?: { revision: number } }> }).waves['0']?.proven?.revision ?? 0) >= rev, 'wave 0 to prove k=2');
    const promote = await control('promote', '--revision', String(rev));
    assert.equal(promote.code, 0, promote.stderr);
    assert.match(promote.stdout, new RegExp(`^app: revision ${rev} promoted to every wave$`, 'm'));
    const promoted = await written(`${p}-fleet/rollout/app/promote`, () => true, 'the promotion');
    const view = await runCli(['fleet', '--port', port(), '--report', `${p}-fleet`]);
    assert.match(view.stdout, /^app: halted by an operator /m);
    assert.match(view.stdout, new RegExp(`^app: revision ${rev} promoted to every wave`, 'm'));
    // The sentinel: c1's gate has read its rollout at or after both the proof and the promotion, and decided.
    await w1.agent.waitForLog((l) => l.msg === 'rollout read' && Number(l.revision) >= Math.max(proved, promoted), 'the gate to read the proof and the promotion', 30_000);
    assert.equal(firstWith(w1, '/app/k=2'), undefined, 'halted: wave 1 applied nothing');
    const resume = await control('resume');
    assert.equal(resume.code, 0, resume.stderr);
    assert.match(resume.stdout, /^app: resumed$/m);
    await waitFor(() => firstWith(w1, '/app/k=2'), 'wave 1 to apply k=2 after the resume', 30_000);

    // Wave 0 gone: wave 1 says that it waits for it, and a promotion lets it go.
    await w0.agent.stop();
    await waitFor(async () => /which has 0 live host\(s\)/.test((await report(p, 'c1'))?.targets.app?.message ?? ''), 'c1 to say that wave 0 has no live host', 30_000);
    assert.equal((await report(p, 'c1'))?.targets.app?.state, 'waiting');
    const rev3 = await put(`${p}/app/k`, '3');
    // A revision etcd has not reached, and a target no host reports, are refused before anything is written.
    const future = await control('promote', '--revision', String(rev3 + 1000), '--target', 'app');
    assert.equal(future.code, 2, future.stderr);
    assert.match(future.stderr, /--revision \d+ is beyond etcd's current revision/);
    const nope = await control('promote', '--revision', String(rev3), '--target', 'nope');
    assert.equal(nope.code, 2, nope.stderr);
    assert.match(nope.stderr, /--target nope: no host under .* reports a target of that id with a rollout \(they report: app\)/);
    const urgent = await control('promote', '--revision', String(rev3), '--target', 'app');
    assert.equal(urgent.code, 0, urgent.stderr);
    await waitFor(() => firstWith(w1, '/app/k=3'), 'wave 1 to apply the promoted revision', 30_000);
  } finally {
    await stopAll([w0, w1]);
  }
});

test('bad rollout input is a usage error (exit 2), naming the flag', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['fleet', 'promote', '--report', '/f', '--port', port()], /fleet promote needs --revision/],
    [['fleet', 'promote', '--report', '/f', '--revision', 'zero'], /--revision.*must be a revision/],
    [['fleet', 'halt', '--port', port()], /fleet halt needs --report <prefix>/],
    [['fleet', 'halt', '--report', '/f', '--revision', '5'], /fleet halt takes no --revision/],
    [['fleet', '--report', '/f', '--revision', '5'], /--revision goes with `fleet promote`/],
    [['fleet', 'promte', '--report', '/f'], /unknown action "promte"/],
    [['fleet', 'resume', '--report', 'f'], /must begin with \//],
    [['fleet', 'halt', '--report', `${uniquePrefix('none')}-fleet`, '--port', port()], /no target with a rollout is reported under .*; name one with --target/],
    [['--wave', '1', '--port', port()], /--wave needs --report <prefix>/],
    [['--wave', 'x', '--report', '/f'], /--wave: must be a whole number/],
    [['--wave', '1', '--onetime'], /--wave .* does nothing with --onetime/],
    [['--report', '/f', '--report-name', 'rollout'], /"rollout" is reserved/],
    [['--report', '/f', '--report-name', 'rollout-election'], /"rollout-election" is reserved/],
    [['--report', '/f', '--wave', '1', '--', 'sleep', '1'], /sidecar mode .* does not go with --wave/],
  ];
  const cfg = makeCfgdir({ a: { id: 'a', source: 'list.ejs', target: 'out/a', key: '/a' } }, { 'list.ejs': LIST });
  for (const [args, message] of cases) {
    const res = await runCli(args[0] === 'fleet' ? args : ['-c', cfg, ...args]);
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stdout}${res.stderr}`);
    assert.match(res.stderr, message, args.join(' '));
  }
});

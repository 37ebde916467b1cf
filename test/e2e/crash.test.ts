import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AgentProcess, runCli } from '../support/cli';
import { sharedEtcd, uniquePrefix } from '../support/etcd';
import { lines, makeCfgdir, readOr, sleep, tempDir, waitFor } from '../support/util';

const shared = sharedEtcd();

const staged = (dir: string): string[] => readdirSync(dir).filter((n) => n.includes('.reconfig-'));

test('kill -9 at any point of an apply leaves the target old or new, never partial; the next start cleans up', async () => {
  const p = uniquePrefix('crash');
  const size = 1_000_000; // under etcd's default 1.5 MiB request limit
  const body = (i: number): string => `${String(i).padStart(8, '0')}${'x'.repeat(size)}`;
  await shared.client.put(`${p}/big`).value(body(0));
  const checks = path.join(tempDir(), 'checks');
  const cfg = makeCfgdir(
    // The check notes each start and takes a moment, so a kill can be aimed at the middle of it.
    { big: { id: 'big', source: 'big.ejs', target: 'out/big', key: '/big', checkcmd: `echo started >> ${checks}; sleep 0.2; test -s {{src}}` } },
    { 'big.ejs': '<%= get("/big") %>\n' },
  );
  const out = path.join(cfg, 'out/big');
  const args = ['-c', cfg, '--port', String(shared.etcd.clientPort), '-p', p];
  const seen = new Set<string>();
  let leftovers = 0;
  // Kill at a different moment each round: after a delay (before, during or after the check and the swap), or
  // ("check") as soon as this round's check has started, when the staged file certainly exists.
  const moments: Array<number | 'check'> = [0, 5, 20, 'check', 120, 180, 'check', 400];
  for (let i = 1; i <= moments.length; i++) {
    const agent = AgentProcess.start(args);
    await agent.waitForLog((l) => l.msg.startsWith('first full apply done'), 'first sync');
    await waitFor(() => readOr(out).length === size + 9, 'a complete file');
    const checksBefore = lines(checks).length;
    await shared.client.put(`${p}/big`).value(body(i));
    const moment = moments[i - 1];
    if (moment === 'check') await waitFor(() => lines(checks).length > checksBefore, 'the check of this round', 20_000);
    else await sleep(moment);
    agent.child.kill('SIGKILL');
    await agent.exited;
    const content = readFileSync(out, 'utf8');
    const n = Number(content.slice(0, 8));
    assert.ok(content === `${body(n)}\n` && (n === i || n === i - 1), `round ${i}: the file is whole, old or new (version ${n})`);
    seen.add(n === i ? 'new' : 'old');
    const left = staged(path.dirname(out)).length;
    leftovers += left;
    if (moment === 'check') {
      assert.equal(n, i - 1, `round ${i}: killed while checking, the live file is the old one`);
      assert.equal(left, 1, `round ${i}: killed while checking, the staged file is left behind for the next start`);
    }
    // The next start (a plain onetime run) removes what the crash left and converges.
    const res = await runCli([...args, '--onetime']);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(staged(path.dirname(out)), []);
    assert.equal(readFileSync(out, 'utf8'), `${body(i)}\n`);
  }
  // Which of the timed moments were hit is reported, not required (that is timing).
  process.stderr.write(`# crash test: outcomes ${[...seen].join(', ')}; staged files left by kills: ${leftovers}\n`);
});

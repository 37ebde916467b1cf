/** Several keys per target (`keys`), against a real etcd: one revision for all of them, a change under each re-renders, a key outside them named. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { AgentProcess, runCli } from '../support/cli';
import { sharedEtcd, uniquePrefix } from '../support/etcd';
import { makeCfgdir, readOr, waitFor } from '../support/util';

const shared = sharedEtcd();
const port = (): string => String(shared.etcd.clientPort);

const TEMPLATE = 'maxconn <%= get("/global/maxconn") %>\n<% for (const c of children("/services/web")) { %>server <%= c.name %> <%= c.value %>\n<% } %>';

function cfgdir(template = TEMPLATE): string {
  return makeCfgdir(
    { web: { id: 'web', source: 'web.ejs', target: 'out/web', key: '/services/web', recursive: true, keys: [{ key: '/global/maxconn', recursive: false }] } },
    { 'web.ejs': template },
  );
}

test('--onetime reads every key of a target at one revision: two keys written together are never seen apart', async () => {
  const p = uniquePrefix('keys-rev');
  const cfg = cfgdir('<%= get("/global/maxconn") %> <%= get("/services/web/gen") %>\n');
  const write = async (n: number): Promise<void> => {
    await shared.client.stm().transact((tx) => Promise.all([tx.put(`${p}/global/maxconn`).value(String(n)), tx.put(`${p}/services/web/gen`).value(String(n))]));
  };
  await write(0);
  let n = 0;
  let writing = true;
  const writer = (async () => {
    while (writing && n < 2000) await write(++n);
  })();
  try {
    for (let i = 0; i < 8; i++) {
      const r = await runCli(['-c', cfg, '--port', port(), '-p', p, '--onetime']);
      assert.equal(r.code, 0, r.stderr);
      const [a, b] = readOr(path.join(cfg, 'out/web')).trim().split(' ');
      assert.equal(a, b, 'both keys from one revision');
    }
  } finally {
    writing = false;
    await writer;
  }
  assert.ok(n > 0, 'the writer ran meanwhile');
});

test('the agent re-renders on a change under each key of a target; a template reading outside them is told which keys it has', async () => {
  const p = uniquePrefix('keys-watch');
  await shared.client.put(`${p}/global/maxconn`).value('100');
  await shared.client.put(`${p}/services/web/a`).value('10.0.0.1:80');
  const cfg = cfgdir();
  const out = path.join(cfg, 'out/web');
  const agent = AgentProcess.start(['-c', cfg, '--port', port(), '-p', p]);
  try {
    await waitFor(() => readOr(out) === 'maxconn 100\nserver a 10.0.0.1:80\n', 'the first render, from both keys');
    await shared.client.put(`${p}/global/maxconn`).value('200');
    await waitFor(() => readOr(out) === 'maxconn 200\nserver a 10.0.0.1:80\n', 'a change under the second key');
    await shared.client.put(`${p}/services/web/b`).value('10.0.0.2:80');
    await waitFor(() => readOr(out) === 'maxconn 200\nserver a 10.0.0.1:80\nserver b 10.0.0.2:80\n', 'a change under the first key');
    // A key next to the second one but not under it: nothing to render.
    await shared.client.put(`${p}/global/maxconnections`).value('x');
    await shared.client.put(`${p}/services/web/c`).value('10.0.0.3:80');
    await waitFor(() => readOr(out).endsWith('server c 10.0.0.3:80\n'), 'the sentinel change');
    assert.doesNotMatch(readOr(out), /maxconnections|x\n/);
  } finally {
    await agent.stop();
  }

  const outside = cfgdir('<%= get("/global/other", "1") %>\n');
  const r = await runCli(['-c', outside, '--port', port(), '-p', p, '--onetime']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /FAILED at render: .*\/global\/other lies outside this target's keys \(\/services\/web, \/global\/maxconn\)/);
});

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { EtcdServer, sharedEtcd, uniquePrefix } from '../support/etcd';
import { reload, startAgent } from '../support/agent';
import { lines, LIST, makeCfgdir, readOr, tempDir, waitFor } from '../support/util';

const shared = sharedEtcd();

test('a change reaches the file; a delete re-renders; an unrelated sibling key does not trigger', async () => {
  const p = uniquePrefix('basic');
  const dir = tempDir();
  const reloads = path.join(dir, 'reloads');
  await shared.client.put(`${p}/svc/a`).value('1');
  const cfg = makeCfgdir(
    { svc: { id: 'svc', source: 'list.ejs', target: 'out/svc.conf', key: '/svc', recursive: true, reloadcmd: `echo r >> ${reloads}` } },
    { 'list.ejs': LIST },
  );
  const out = path.join(cfg, 'out/svc.conf');
  const a = startAgent({ cfgdir: cfg, endpoint: shared.etcd.url, prefix: p });
  try {
    await waitFor(() => readOr(out) === '/svc/a=1\n', 'initial render');
    await shared.client.put(`${p}/svc/b`).value('2');
    await waitFor(() => readOr(out) === '/svc/a=1\n/svc/b=2\n', 'the put');
    await shared.client.delete().key(`${p}/svc/a`);
    await waitFor(() => readOr(out) === '/svc/b=2\n', 'the delete');
    // The reload runs after the swap: wait for the third one (initial, put, delete).
    await waitFor(() => lines(reloads).length === 3, 'three reloads');
    await shared.client.put(`${p}/svcx`).value('unrelated');
    await shared.client.put(`${p}/svc/b`).value('2'); // same value: same bytes, no reload
    // A sentinel change after them: once it is applied, exactly one more reload must have happened.
    await shared.client.put(`${p}/svc/c`).value('3');
    await waitFor(() => readOr(out) === '/svc/b=2\n/svc/c=3\n', 'the sentinel');
    await waitFor(() => lines(reloads).length >= 4, 'its reload');
    assert.equal(lines(reloads).length, 4, 'the unrelated key and the unchanged value reloaded nothing');
  } finally {
    await a.stop();
  }
});

test('a burst of 5,000 puts over 200 keys coalesces into few applies and ends in the exact final state', async () => {
  const p = uniquePrefix('burst');
  const dir = tempDir();
  const reloads = path.join(dir, 'reloads');
  const cfg = makeCfgdir(
    { b: { id: 'b', source: 'list.ejs', target: 'out/b.conf', key: '/b', recursive: true, reloadcmd: `echo r >> ${reloads}` } },
    { 'list.ejs': LIST },
  );
  const out = path.join(cfg, 'out/b.conf');
  const a = startAgent({ cfgdir: cfg, endpoint: shared.etcd.url, prefix: p });
  try {
    await waitFor(() => existsSync(out) && lines(reloads).length === 1, 'initial render');
    const final = new Map<string, string>();
    const puts: Promise<unknown>[] = [];
    for (let i = 0; i < 5000; i++) {
      const k = `/b/k${String(i % 200).padStart(3, '0')}`;
      final.set(k, String(i));
      puts.push(shared.client.put(p + k).value(String(i)).exec());
      if (puts.length >= 100) await Promise.all(puts.splice(0));
    }
    await Promise.all(puts);
    const expected = [...final.entries()].sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, v]) => `${k}=${v}\n`).join('');
    await waitFor(() => readOr(out) === expected, 'the exact final state', 30_000);
    const applies = lines(reloads).length;
    assert.ok(applies < 250, `5,000 puts made ${applies} applies`);
    assert.ok(applies >= 2, 'the burst was applied (beyond the initial render)');
  } finally {
    await a.stop();
  }
});

test('a failed check never blocks later updates, and other targets are unaffected', async () => {
  const p = uniquePrefix('check');
  await shared.client.put(`${p}/one`).value('good');
  await shared.client.put(`${p}/two`).value('x');
  const cfg = makeCfgdir(
    {
      one: { id: 'one', source: 'v.ejs', target: 'out/one', key: '/one', checkcmd: 'grep -q good {{src}}' },
      two: { id: 'two', source: 'v2.ejs', target: 'out/two', key: '/two' },
    },
    { 'v.ejs': '<%= get("/one") %>\n', 'v2.ejs': '<%= get("/two") %>\n' },
  );
  const one = path.join(cfg, 'out/one');
  const two = path.join(cfg, 'out/two');
  const a = startAgent({ cfgdir: cfg, endpoint: shared.etcd.url, prefix: p });
  try {
    await waitFor(() => readOr(one) === 'good\n' && readOr(two) === 'x\n', 'initial render');
    await shared.client.put(`${p}/one`).value('bad');
    await waitFor(() => a.logs.find((l) => l.target === 'one' && l.stage === 'check'), 'the check failure log');
    const failure = a.logs.find((l) => l.target === 'one' && l.stage === 'check')!;
    assert.equal(failure.exitCode, 1);
    assert.equal(readOr(one), 'good\n');
    await shared.client.put(`${p}/two`).value('y');
    await waitFor(() => readOr(two) === 'y\n', 'the other target');
    await shared.client.put(`${p}/one`).value('good again');
    await waitFor(() => readOr(one) === 'good again\n', 'the fixed value');
  } finally {
    await a.stop();
  }
});

test('a template that throws on one value holds only its own target, which recovers when the value is fixed', async () => {
  const p = uniquePrefix('throw');
  await shared.client.put(`${p}/j`).value('{"port": 1}');
  await shared.client.put(`${p}/k`).value('k1');
  const cfg = makeCfgdir(
    {
      j: { id: 'j', source: 'j.ejs', target: 'out/j', key: '/j' },
      k: { id: 'k', source: 'k.ejs', target: 'out/k', key: '/k' },
    },
    { 'j.ejs': 'port <%= json("/j").port %>\n', 'k.ejs': '<%= get("/k") %>\n' },
  );
  const j = path.join(cfg, 'out/j');
  const k = path.join(cfg, 'out/k');
  const a = startAgent({ cfgdir: cfg, endpoint: shared.etcd.url, prefix: p });
  try {
    await waitFor(() => readOr(j) === 'port 1\n', 'initial render');
    await shared.client.put(`${p}/j`).value('{not json');
    await waitFor(() => a.logs.find((l) => l.target === 'j' && l.stage === 'render'), 'the render failure');
    const failure = a.logs.find((l) => l.target === 'j' && l.stage === 'render')!;
    assert.match(String(failure.err), /j\.ejs:1: value of \/j is not JSON/);
    await shared.client.put(`${p}/k`).value('k2');
    await waitFor(() => readOr(k) === 'k2\n', 'the other target');
    assert.equal(readOr(j), 'port 1\n');
    await shared.client.put(`${p}/j`).value('{"port": 2}');
    await waitFor(() => readOr(j) === 'port 2\n', 'recovery');
  } finally {
    await a.stop();
  }
});

test('odd data renders: 1 MiB values, newlines, invalid UTF-8', async () => {
  const p = uniquePrefix('odd');
  const big = 'x'.repeat(1 << 20);
  await shared.client.put(`${p}/d/big`).value(big);
  await shared.client.put(`${p}/d/nl`).value('a\nb');
  await shared.client.put(`${p}/d/bin`).value(Buffer.from([0x66, 0xff, 0x6f]));
  // multiline: a value with a line break is refused by default (test/e2e/values.test.ts); this one is allowed.
  const cfg = makeCfgdir({ d: { id: 'd', source: 'd.ejs', target: 'out/d', key: '/d', recursive: true, multiline: true } }, {
    'd.ejs': '<%= get("/d/big").length %>|<%= get("/d/nl") %>|<%= get("/d/bin") %>\n',
  });
  const a = startAgent({ cfgdir: cfg, endpoint: shared.etcd.url, prefix: p });
  try {
    await waitFor(() => readOr(path.join(cfg, 'out/d')) === `${1 << 20}|a\nb|f\uFFFDo\n`, 'the odd render');
  } finally {
    await a.stop();
  }
});

test('after etcd is killed and restarted, the next change still arrives', async () => {
  const own = await EtcdServer.start();
  const c = own.client();
  const cfg = makeCfgdir({ r: { id: 'r', source: 'list.ejs', target: 'out/r', key: '/r', recursive: true } }, { 'list.ejs': LIST });
  const out = path.join(cfg, 'out/r');
  const a = startAgent({ cfgdir: cfg, endpoint: own.url });
  try {
    await c.put('/r/a').value('1');
    await waitFor(() => readOr(out) === '/r/a=1\n', 'first change');
    for (let i = 2; i <= 3; i++) {
      await own.kill9();
      await own.restart();
      await c.put('/r/a').value(String(i));
      await waitFor(() => readOr(out) === `/r/a=${i}\n`, `change after restart ${i - 1}`);
    }
    // etcd kept its data: the watch resumes where it stopped, and nothing is read again.
    assert.ok(a.logs.some((l) => /^reconnected; resumed the watch from revision \d+, reading nothing again$/.test(l.msg)), 'logs the resume');
    assert.ok(!a.logs.some((l) => /resynced at revision/.test(l.msg)), 'no fresh snapshot');
    const disconnects = a.logs.filter((l) => l.msg === 'disconnected from etcd; retrying').length;
    assert.ok(disconnects >= 1 && disconnects <= 2, `each outage logged once, got ${disconnects}`);
  } finally {
    await a.stop();
    c.close();
    await own.stop();
  }
});

test('replacing the set (SIGHUP) adds, removes and changes targets without a restart', async () => {
  const p = uniquePrefix('hup');
  await shared.client.put(`${p}/a`).value('A');
  await shared.client.put(`${p}/b`).value('B');
  const cfg = makeCfgdir({ a: { id: 'a', source: 'a.ejs', target: 'out/a', key: '/a' } }, { 'a.ejs': '<%= get("/a") %>\n', 'b.ejs': 'b=<%= get("/b") %>\n' });
  const a = startAgent({ cfgdir: cfg, endpoint: shared.etcd.url, prefix: p });
  try {
    await waitFor(() => readOr(path.join(cfg, 'out/a')) === 'A\n', 'a');
    rmSync(path.join(cfg, 'conf.d/a.json'));
    writeFileSync(path.join(cfg, 'conf.d/b.json'), JSON.stringify({ id: 'b', source: 'b.ejs', target: 'out/b', key: '/b' }));
    await a.agent.replace(reload(cfg, p));
    await waitFor(() => readOr(path.join(cfg, 'out/b')) === 'b=B\n', 'the new target');
    await shared.client.put(`${p}/a`).value('A2');
    await shared.client.put(`${p}/b`).value('B2');
    await waitFor(() => readOr(path.join(cfg, 'out/b')) === 'b=B2\n', 'the new target follows etcd');
    assert.equal(readOr(path.join(cfg, 'out/a')), 'A\n', 'the removed target is no longer written');
  } finally {
    await a.stop();
  }
});

test('stop waits for the apply in flight', async () => {
  const p = uniquePrefix('stop');
  const dir = tempDir();
  const marker = path.join(dir, 'reloaded');
  const cfg = makeCfgdir(
    { s: { id: 's', source: 's.ejs', target: 'out/s', key: '/s', reloadcmd: `sleep 1; touch ${marker}` } },
    { 's.ejs': '<%= get("/s", "none") %>\n' },
  );
  const a = startAgent({ cfgdir: cfg, endpoint: shared.etcd.url, prefix: p });
  await waitFor(() => a.logs.some((l) => l.msg === 'applied'), 'first apply');
  rmSync(marker, { force: true });
  await shared.client.put(`${p}/s`).value('v');
  await waitFor(() => readOr(path.join(cfg, 'out/s')) === 'v\n', 'the swap');
  await a.stop();
  assert.ok(existsSync(marker), 'the reload finished before stop returned');
  assert.equal(readFileSync(path.join(cfg, 'out/s'), 'utf8'), 'v\n');
});

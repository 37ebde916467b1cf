import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { sharedEtcd, uniquePrefix } from '../support/etcd';
import { startAgent } from '../support/agent';
import { lines, LIST, makeCfgdir, readOr, sleep, tempDir, waitFor } from '../support/util';

const shared = sharedEtcd();

test('minkeys holds the target while its data has too few keys, and lets go when it has enough', async () => {
  const p = uniquePrefix('minkeys');
  for (const k of ['a', 'b', 'c']) await shared.client.put(`${p}/m/${k}`).value(k);
  const cfg = makeCfgdir({ m: { id: 'm', source: 'list.ejs', target: 'out/m', key: '/m', recursive: true, minkeys: 2 } }, { 'list.ejs': LIST });
  const out = path.join(cfg, 'out/m');
  const a = startAgent({ cfgdir: cfg, endpoint: shared.etcd.url, prefix: p });
  try {
    await waitFor(() => readOr(out) === '/m/a=a\n/m/b=b\n/m/c=c\n', 'initial render');
    await shared.client.delete().prefix(`${p}/m/`);
    await waitFor(() => a.logs.find((l) => l.stage === 'hold'), 'the hold');
    const held = a.logs.find((l) => l.stage === 'hold')!;
    assert.equal(held.level, 'error');
    assert.match(String(held.err), /\/m holds 0 key\(s\), fewer than minkeys 2; left untouched/);
    assert.equal(readOr(out), '/m/a=a\n/m/b=b\n/m/c=c\n', 'the empty backend did not wipe the file');
    await shared.client.put(`${p}/m/x`).value('x');
    // The change is evaluated (a second hold, with one key) rather than waited out.
    await waitFor(() => a.logs.find((l) => l.stage === 'hold' && /holds 1 key\(s\)/.test(String(l.err))), 'the hold with one key');
    assert.equal(readOr(out), '/m/a=a\n/m/b=b\n/m/c=c\n', 'one key is still too few');
    await shared.client.put(`${p}/m/y`).value('y');
    await waitFor(() => readOr(out) === '/m/x=x\n/m/y=y\n', 'two keys are enough');
  } finally {
    await a.stop();
  }
});

test('wait: changes apply once quiet for min, and no later than max after the first', async () => {
  const p = uniquePrefix('wait');
  const dir = tempDir();
  const reloads = path.join(dir, 'reloads');
  await shared.client.put(`${p}/w/k`).value('0');
  const cfg = makeCfgdir(
    { w: { id: 'w', source: 'list.ejs', target: 'out/w', key: '/w', recursive: true, wait: { min: '400ms', max: '1200ms' }, reloadcmd: `echo r >> ${reloads}` } },
    { 'list.ejs': LIST },
  );
  const out = path.join(cfg, 'out/w');
  const a = startAgent({ cfgdir: cfg, endpoint: shared.etcd.url, prefix: p });
  try {
    await waitFor(() => readOr(out) === '/w/k=0\n', 'the first render, which does not wait');
    // Five quick changes: one apply, after the quiet period.
    for (let i = 1; i <= 5; i++) await shared.client.put(`${p}/w/k`).value(String(i));
    const lastPut = Date.now();
    await waitFor(() => readOr(out) === '/w/k=5\n', 'the debounced apply');
    // Not before min (400 ms) of quiet: an apply at once would come within milliseconds of the last put.
    assert.ok(Date.now() - lastPut >= 390, `applied ${Date.now() - lastPut} ms after the last put`);
    await waitFor(() => lines(reloads).length === 2, 'its reload');
    // A sentinel after the burst: once it has applied, the five changes must have cost exactly one reload.
    await shared.client.put(`${p}/w/k`).value('sentinel');
    await waitFor(() => readOr(out) === '/w/k=sentinel\n' && lines(reloads).length >= 3, 'the sentinel and its reload');
    assert.equal(lines(reloads).length, 3, 'one reload for the five changes');
    // A steady stream never quiet for min: max forces an apply while it goes on.
    const streamEnd = Date.now() + 2500;
    let i = 100;
    while (Date.now() < streamEnd) {
      await shared.client.put(`${p}/w/k`).value(String(i++));
      await sleep(150);
    }
    // Counted before the stream's own quiet period could apply it: only max can have applied meanwhile.
    assert.ok(lines(reloads).length > 3, `max applied during the stream (${lines(reloads).length} reloads)`);
    await waitFor(() => readOr(out) === `/w/k=${i - 1}\n`, 'the final state');
  } finally {
    await a.stop();
  }
});

test('the periodic resync re-reads everything: a hand-edited file is put back, an unchanged one is not reloaded', async () => {
  const p = uniquePrefix('resync');
  const dir = tempDir();
  const reloads = path.join(dir, 'reloads');
  await shared.client.put(`${p}/r/k`).value('v');
  const cfg = makeCfgdir(
    { r: { id: 'r', source: 'list.ejs', target: 'out/r', key: '/r', recursive: true, reloadcmd: `echo r >> ${reloads}` } },
    { 'list.ejs': LIST },
  );
  const out = path.join(cfg, 'out/r');
  const a = startAgent({ cfgdir: cfg, endpoint: shared.etcd.url, prefix: p, resyncMs: 300 });
  try {
    await waitFor(() => readOr(out) === '/r/k=v\n' && lines(reloads).length === 1, 'initial render');
    await waitFor(() => a.logs.filter((l) => /^resynced at revision \d+$/.test(l.msg)).length >= 2, 'two resyncs');
    assert.equal(lines(reloads).length, 1, 'resyncs of unchanged data reload nothing');
    writeFileSync(out, 'edited by hand\n');
    await waitFor(() => readOr(out) === '/r/k=v\n', 'the file put back');
  } finally {
    await a.stop();
  }
});

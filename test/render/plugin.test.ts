/**
 * Plugins loaded again and again, as every SIGHUP does (loadTargets is what it calls): the old modules must go.
 * Measured on Node's own bookkeeping (require.cache, the loader's module.children) and by the garbage collector.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { loadTargets } from '../../src/config/load';
import { makeCfgdir, tempDir } from '../support/util';

const RELOADS = 20;

/** A cfgdir with one plugin target; the plugin holds a 1 MB buffer, as a real one may hold a client or a cache. */
function pluginCfgdir(): { cfgdir: string; plugin: string } {
  const plugin = path.join(tempDir(), 'big.js');
  writeFileSync(plugin, "'use strict';\nconst ballast = Buffer.alloc(1 << 20, 1);\nexports.get = () => ({ size: ballast.length });\n");
  const cfgdir = makeCfgdir({ p: { id: 'p', source: 'p.ejs', target: 'out/p', plugin, interval: '1h' } }, { 'p.ejs': '<%= plugin.size %>\n' });
  return { cfgdir, plugin };
}

/** The Module objects Node keeps for `file`: as children of any module in the cache, and the cache entry. */
function retained(file: string): { children: number; cached: boolean } {
  let children = 0;
  for (const m of Object.values(require.cache)) children += (m?.children ?? []).filter((c) => c.filename === file).length;
  return { children, cached: require.cache[file] !== undefined };
}

test(`${RELOADS} loads of a plugin leave one module for it in Node's module tree, not ${RELOADS}`, () => {
  const { cfgdir, plugin } = pluginCfgdir();
  for (let i = 0; i < RELOADS; i++) {
    const [t] = loadTargets({ cfgdir, prefix: '' });
    assert.equal(t.plugin?.path, plugin);
  }
  // Loaded through a require() made at the plugin's own path (createRequire), whose parent module is not kept:
  // no cached module lists it as a child, and the cache holds the one current load. (Before the fix: 20 children.)
  assert.deepEqual(retained(plugin), { children: 0, cached: true });
});

test('an edited plugin is read afresh on the next load, and the module it replaced is collected', async () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const { cfgdir, plugin } = pluginCfgdir();
  // Only a weak reference to the first load's get() (and so to its module and its buffer) is kept here.
  const first = new WeakRef(loadTargets({ cfgdir, prefix: '' })[0].plugin!.get);
  for (let i = 0; i < RELOADS; i++) loadTargets({ cfgdir, prefix: '' });
  writeFileSync(plugin, "exports.get = () => ({ size: 'edited' });\n");
  const [t] = loadTargets({ cfgdir, prefix: '' });
  assert.deepEqual(t.plugin?.get({ target: 'p', data: {}, signal: AbortSignal.abort() }), { size: 'edited' });
  // A WeakRef's target lives at least until the end of the job that made it.
  await new Promise((r) => setImmediate(r));
  gc();
  assert.equal(first.deref(), undefined, 'the first load of the plugin is still reachable');
});

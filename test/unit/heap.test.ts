/**
 * src/ops/heap.ts: the memory-reducing GC after the first full apply runs once, on its timer, only under the V8
 * it was measured to help, and leaves no `gc` behind for the process or a template.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import vm from 'node:vm';
import { helpsHere, releaseStartupMemory } from '../../src/ops/heap';
import type { Logger } from '../../src/log';

/** A logger that keeps what was logged at debug level (the rest of pino's interface is never called here). */
function debugLog(): { log: Logger; lines: Array<{ obj: Record<string, unknown>; msg: string }> } {
  const lines: Array<{ obj: Record<string, unknown>; msg: string }> = [];
  const log = { debug: (obj: Record<string, unknown>, msg: string) => void lines.push({ obj, msg }) } as unknown as Logger;
  return { log, lines };
}

test('it runs under V8 13 and later (Node 24), not under V8 11 (Node 20)', () => {
  assert.equal(helpsHere('13.6.233.17-node.37'), true);
  assert.equal(helpsHere('14.1.0'), true);
  assert.equal(helpsHere('11.3.244.8-node.33'), false);
  assert.equal(helpsHere('12.4.254.21-node.33'), false);
});

test('one GC on its timer, then no gc left exposed', { skip: !helpsHere() && 'measured to help only under V8 13+' }, (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { log, lines } = debugLog();
  releaseStartupMemory(log, 1000);
  t.mock.timers.tick(999);
  assert.equal(lines.length, 0, 'not before its time');
  t.mock.timers.tick(1);
  assert.equal(lines.length, 1);
  assert.equal(lines[0].msg, 'gave back start-up memory');
  assert.equal(typeof lines[0].obj.rss_after_mb, 'number');
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
  assert.equal(vm.runInNewContext('typeof gc'), 'undefined', 'a context made later (a template) sees no gc');
});

test('under V8 11 it does nothing, not even a timer', { skip: helpsHere() && 'this V8 runs it' }, (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { log, lines } = debugLog();
  releaseStartupMemory(log, 1000);
  t.mock.timers.tick(10_000);
  assert.equal(lines.length, 0);
});

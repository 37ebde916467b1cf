/**
 * Gives back the memory that start-up grew, once the agent is ready: one memory-reducing full GC, a second
 * after the first full apply. Start-up (modules, etcd3's protos, the first snapshot and render) grows V8's young
 * generation to its maximum (16 MB of committed pages under Node 24), and an idle agent allocates too little
 * for V8 ever to shrink it again: under Node 24 an idle one-target agent kept 33 MB of RssAnon for good; after
 * this GC, 22 MB (docs/performance.md). Later work grows the heap again as it needs: nothing is capped.
 *
 * Node has no API for it. V8's gc extension, installed in a context made while --expose-gc is set, is the one
 * way in; the flag is set back at once, so that neither the process nor a template sees a global `gc`.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Logger } from '../log';

/** V8's gc extension: `last-resort` is its memory-reducing full GC (CollectAllAvailableGarbage). */
type GcExtension = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/**
 * Only where it was measured to help: V8 13 (Node 24). Under V8 11 (Node 20) the same GC left the heap as it
 * was and put off V8's own memory reducer, which brings an idle agent down about 20 s after start anyway.
 */
export function helpsHere(v8Version: string = process.versions.v8): boolean {
  return Number(v8Version.split('.')[0]) >= 13;
}

function gcExtension(): GcExtension {
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return exposed as GcExtension;
  v8.setFlagsFromString('--expose-gc');
  try {
    return vm.runInNewContext('gc') as GcExtension;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}

/** After `delayMs` (the agent quiet after its first apply), one memory-reducing GC; the timer never holds the process. */
export function releaseStartupMemory(log: Logger, delayMs = 1000): void {
  if (!helpsHere()) return;
  setTimeout(() => {
    const before = process.memoryUsage.rss();
    try {
      gcExtension()({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    } catch (err) {
      // A V8 whose gc extension is not there, or takes other options: the memory stays, the agent runs on.
      log.debug({ err: err instanceof Error ? err.message : String(err) }, 'could not give back start-up memory');
      return;
    }
    log.debug({ rss_before_mb: Math.round(before / 1048576), rss_after_mb: Math.round(process.memoryUsage.rss() / 1048576) }, 'gave back start-up memory');
  }, delayMs).unref();
}

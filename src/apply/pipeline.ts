/**
 * Applies rendered content to one target: compare -> stage -> check -> swap -> reload. Each step is a small
 * function; this one calls them in order. A failed check leaves the target's bytes as they were, keeps the
 * refused bytes beside it (`<target>.reconfig-refused`, named in the error), removes the staged file and skips
 * the reload. Reload runs only when the file changed (or a previous reload failed).
 */
import type { Target } from '../target';
import { ApplyError, CheckError, CommandError, TargetError, errorMessage } from '../errors';
import { runCommand, shellQuote } from './command';
import { unifiedDiff } from './diff';
import { discard, keepRefused, readCurrent, restore, stage, swap, type Current } from './files';
import { signalPidfile } from './signal';

export interface ApplyResult {
  /** The file's bytes changed (or, with notreally, would change). */
  changed: boolean;
  /** The reload command ran and succeeded. */
  reloaded: boolean;
  /** With notreally: the unified diff, or undefined when unchanged. */
  diff?: string;
}

export interface ApplyOptions {
  notreally?: boolean;
  /** Write the file but do not reload. */
  skipReload?: boolean;
  /** Run reloadcmd even if the bytes are unchanged: the last reload failed. */
  reloadPending?: boolean;
  /** Called with each command's output, for the log. */
  onOutput?: (stage: 'check' | 'reload', output: string) => void;
}

type T = Pick<Target, 'id' | 'dest' | 'checkcmd' | 'reloadcmd' | 'reloadsignal' | 'notify' | 'mode' | 'uid' | 'gid' | 'timeoutMs'>;

/** `{{src}}`, or confd's `{{.src}}`. */
const SRC = /\{\{\s*\.?src\s*\}\}/g;

export async function applyTarget(t: T, content: string, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const bytes = Buffer.from(content, 'utf8');
  const current = await step(t, 'read', () => readCurrent(t.dest));
  const changed = !current || !current.bytes.equals(bytes);
  if (opts.notreally) {
    const diff = changed ? await unifiedDiff(t.dest, current?.bytes.toString('utf8') ?? null, content) : undefined;
    return { changed, reloaded: false, diff };
  }
  if (changed) await write(t, bytes, current, opts);
  if ((!changed && !opts.reloadPending) || opts.skipReload) return { changed, reloaded: false };
  const reloaded = await reload(t, opts);
  return { changed, reloaded };
}

async function write(t: T, bytes: Buffer, current: Current | null, opts: ApplyOptions): Promise<void> {
  const staged = await step(t, 'stage', () => stage(t.dest, bytes, t, current));
  try {
    const stagedCheck = t.checkcmd?.replace(SRC, shellQuote(staged));
    const checksStaged = stagedCheck !== t.checkcmd;
    if (stagedCheck && checksStaged) await check(t, stagedCheck, staged, bytes, opts);
    await step(t, 'swap', () => swap(staged, t.dest));
    if (t.checkcmd && !checksStaged) {
      // The check reads the live path: it is already in place, so put the old bytes back if it fails.
      try {
        await check(t, t.checkcmd, t.dest, bytes, opts);
      } catch (err) {
        try {
          await restore(t.dest, current);
        } catch (restoreErr) {
          // Both matter: why the new file was refused, and why the old one is not back.
          const both = new AggregateError([err, restoreErr], `${errorMessage(err)}; then putting the previous file back failed: ${errorMessage(restoreErr)}`);
          throw new TargetError(t.id, 'swap', new ApplyError(both.message, { cause: both }));
        }
        throw err;
      }
    }
  } finally {
    discard(staged);
  }
}

/** Runs checkcmd on `src`, which holds `bytes`. If it refuses them, they are kept and the CheckError says where. */
async function check(t: T, command: string, src: string, bytes: Buffer, opts: ApplyOptions): Promise<void> {
  let output: string;
  try {
    ({ output } = await runCommand('check', command, { env: { RECONFIG_SRC: src, RECONFIG_DEST: t.dest }, timeoutMs: t.timeoutMs }));
  } catch (err) {
    throw new TargetError(t.id, 'check', err instanceof CommandError ? await refused(t.dest, bytes, err) : err);
  }
  opts.onOutput?.('check', output);
}

/** The check's error, naming where the refused bytes were kept, or why they could not be. */
async function refused(dest: string, bytes: Buffer, failed: CommandError): Promise<CheckError> {
  try {
    return new CheckError(failed, await keepRefused(dest, bytes));
  } catch (keepErr) {
    return new CheckError(failed, undefined, keepErr);
  }
}

async function reload(t: T, opts: ApplyOptions): Promise<boolean> {
  const notify = t.notify;
  if (notify) {
    // dockerode is loaded only for targets that notify containers.
    const { notifyContainers } = await import('../docker/watch');
    const names = await step(t, 'reload', () => notifyContainers(notify));
    opts.onOutput?.('reload', `notified ${names.join(', ')}`);
  }
  const sig = t.reloadsignal;
  if (sig) {
    await step(t, 'reload', () => signalPidfile(sig.pidfile, sig.signal));
    return true;
  }
  if (!t.reloadcmd) return notify !== undefined;
  const cmd = t.reloadcmd;
  const { output } = await step(t, 'reload', () =>
    runCommand('reload', cmd, { env: { RECONFIG_DEST: t.dest }, timeoutMs: t.timeoutMs }),
  );
  opts.onOutput?.('reload', output);
  return true;
}

/** Runs one step, wrapping any failure with the target and the stage it failed in. */
async function step<R>(t: T, stage: TargetError['stage'], fn: () => R | Promise<R>): Promise<R> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TargetError) throw err;
    throw new TargetError(t.id, stage, err);
  }
}

/**
 * Applies a target's rendered files as one: compare -> stage -> check -> swap -> reload. Each step is a small
 * function; this one calls them in order. Only the files whose bytes differ are staged and swapped, but the
 * check sees the whole set, and the reload runs once, only if some file changed (or a previous reload failed).
 * A failed check leaves every file as it was, keeps the refused bytes beside each changed file
 * (`<target>.reconfig-refused`, named in the error) and skips the reload; a failed rename puts back the files
 * already swapped.
 */
import type { Target, TargetFile } from '../target';
import { ApplyError, CheckError, CommandError, TargetError, errorMessage } from '../errors';
import { runCommand, shellQuote } from './command';
import { unifiedDiff } from './diff';
import { discard, keepRefused, readCurrent } from './files';
import { clearJournal, writeJournal } from './journal';
import { restoreAll, stageAll, swapAll, type Entry } from './set';
import { signalPidfile } from './signal';

export interface ApplyResult {
  /** Some file's bytes changed (or, with notreally, would change). */
  changed: boolean;
  /** The reload command ran and succeeded. */
  reloaded: boolean;
  /** With notreally: the unified diff of every file that would change, or undefined when none would. */
  diff?: string;
  /** Every file as it was before this apply, and what it holds now: what a rollback puts back. */
  entries: readonly Entry[];
}

export interface ApplyOptions {
  notreally?: boolean;
  /** Write the files but do not reload. */
  skipReload?: boolean;
  /** Run reloadcmd even if the bytes are unchanged: the last reload failed, or a crash came before it. */
  reloadPending?: boolean;
  /** Called with each command's output, for the log. */
  onOutput?: (stage: 'check' | 'reload' | 'verify', output: string) => void;
  /** Leave the swap journal after the reload: a verify follows, and only its end clears it (verify.ts). */
  keepJournal?: boolean;
  /** The reload of a target with none of its own: sidecar mode's signal to its program (for a verify after it). */
  programReload?: () => void;
}

export type T = Pick<Target, 'id' | 'dest' | 'files' | 'checkcmd' | 'reloadcmd' | 'reloadsignal' | 'notify' | 'timeoutMs'>;

/** `{{src}}` (the first file), `{{src.<name>}}` (the file of that name), or confd's `{{.src}}`. */
const SRC = /\{\{\s*\.?src(?:\.([A-Za-z0-9_.-]+?))?\s*\}\}/g;

export async function applyTarget(t: T, contents: readonly string[], opts: ApplyOptions = {}): Promise<ApplyResult> {
  // Outside the read step: a render that gave no string is a bug in reconfig, not a failed read.
  const bytes = contents.map((c) => Buffer.from(c, 'utf8'));
  const entries: Entry[] = await step(t, 'read', () =>
    t.files.map((file, i) => {
      const current = readCurrent(file.dest);
      return { file, bytes: bytes[i], current, changed: !current || !current.bytes.equals(bytes[i]) };
    }),
  );
  const changed = entries.some((e) => e.changed);
  if (opts.notreally) {
    const diffs = await Promise.all(entries.filter((e) => e.changed).map((e) => unifiedDiff(e.file.dest, e.current?.bytes.toString('utf8') ?? null, e.bytes.toString('utf8'))));
    return { changed, reloaded: false, diff: changed ? diffs.join('') : undefined, entries };
  }
  const reloads = !opts.skipReload && (hasReload(t) || opts.programReload !== undefined);
  if (changed) await write(t, entries, reloads, opts);
  if ((!changed && !opts.reloadPending) || opts.skipReload) return { changed, reloaded: false, entries };
  const reloaded = await reload(t, opts);
  if (!opts.keepJournal) await step(t, 'reload', () => clearJournal(t.dest));
  return { changed, reloaded, entries };
}

/** Whether a target reloads by itself: containers to notify, a pidfile's signal, or reloadcmd. */
export function hasReload(t: Pick<T, 'reloadcmd' | 'reloadsignal' | 'notify'>): boolean {
  return t.reloadcmd !== undefined || t.reloadsignal !== undefined || t.notify !== undefined;
}

async function write(t: T, entries: readonly Entry[], reloads: boolean, opts: ApplyOptions): Promise<void> {
  const staged = await step(t, 'stage', () => stageAll(entries));
  // Once every staged file is renamed into place there is nothing left to discard (an rmSync of a missing file
  // is an lstat and a thrown error, on every apply).
  let swapped = false;
  try {
    // Each placeholder names a staged file, or the live one if this apply does not change it.
    const pathOf = (f: TargetFile): string => {
      const e = entries.find((x) => x.file === f);
      return (e && staged.get(e)) ?? f.dest;
    };
    const stagedCheck = t.checkcmd === undefined ? undefined : placeholders(t, t.checkcmd, pathOf);
    const checksStaged = stagedCheck !== undefined && stagedCheck !== t.checkcmd;
    if (stagedCheck !== undefined && checksStaged) await check(t, stagedCheck, pathOf(t.files[0]), entries, opts);
    // A crash from here to the end of the reload leaves the journal: the next start reloads (journal.ts).
    if (reloads) await step(t, 'swap', () => writeJournal(t.files.map((f) => f.dest)));
    await step(t, 'swap', () => swapAll(staged));
    swapped = true;
    if (!reloads) await step(t, 'swap', () => clearJournal(t.dest));
    if (t.checkcmd !== undefined && !checksStaged) {
      // The check reads the live paths: the files are already in place, so put the old ones back if it fails.
      try {
        await check(t, t.checkcmd, t.dest, entries, opts);
      } catch (err) {
        try {
          await restoreAll(entries);
        } catch (restoreErr) {
          // Both matter: why the new files were refused, and why the old ones are not back.
          const what = t.files.length === 1 ? 'the previous file' : 'the previous files';
          const both = new AggregateError([err, restoreErr], `${errorMessage(err)}; then putting ${what} back failed: ${errorMessage(restoreErr)}`);
          throw new TargetError(t.id, 'swap', new ApplyError(both.message, { cause: both }));
        }
        await step(t, 'check', () => clearJournal(t.dest));
        throw err;
      }
    }
  } finally {
    if (!swapped) for (const s of staged.values()) discard(s);
  }
}

/** `command` with every placeholder replaced by the shell-quoted path of its file; an unknown name is a check error. */
function placeholders(t: T, command: string, pathOf: (f: TargetFile) => string): string {
  return command.replace(SRC, (_m, name: string | undefined) => {
    const f = name === undefined ? t.files[0] : t.files.find((x) => x.name === name);
    if (!f) throw new TargetError(t.id, 'check', new Error(`checkcmd names {{src.${name}}}, but the target has no file named ${JSON.stringify(name)} (its files: ${t.files.map((x) => x.name).join(', ')})`));
    return shellQuote(pathOf(f));
  });
}

/** Runs checkcmd. If it refuses the set, each changed file's new bytes are kept beside it and the CheckError says where. */
async function check(t: T, command: string, src: string, entries: readonly Entry[], opts: ApplyOptions): Promise<void> {
  let output: string;
  try {
    ({ output } = await runCommand('check', command, { env: { RECONFIG_SRC: src, RECONFIG_DEST: t.dest }, timeoutMs: t.timeoutMs }));
  } catch (err) {
    throw new TargetError(t.id, 'check', err instanceof CommandError ? await refused(entries, err) : err);
  }
  opts.onOutput?.('check', output);
}

/** The check's error, naming where the refused bytes were kept, or why they could not be. */
async function refused(entries: readonly Entry[], failed: CommandError): Promise<CheckError> {
  try {
    const kept: string[] = [];
    for (const e of entries) if (e.changed) kept.push(await keepRefused(e.file.dest, e.bytes));
    return new CheckError(failed, kept.join(', '));
  } catch (keepErr) {
    return new CheckError(failed, undefined, keepErr);
  }
}

/** The target's reload: notify containers, a signal, or reloadcmd. False when it has none. */
export async function reload(t: T, opts: ApplyOptions): Promise<boolean> {
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
  if (!t.reloadcmd) {
    const program = opts.programReload;
    if (notify || !program) return notify !== undefined;
    await step(t, 'reload', program);
    return true;
  }
  const cmd = t.reloadcmd;
  const { output } = await step(t, 'reload', () =>
    runCommand('reload', cmd, { env: { RECONFIG_DEST: t.dest }, timeoutMs: t.timeoutMs }),
  );
  opts.onOutput?.('reload', output);
  return true;
}

/** Runs one step, wrapping any failure with the target and the stage it failed in. */
export async function step<R>(t: Pick<T, 'id'>, stage: TargetError['stage'], fn: () => R | Promise<R>): Promise<R> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TargetError) throw err;
    throw new TargetError(t.id, stage, err);
  }
}

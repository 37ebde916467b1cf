/**
 * One apply of a target and how it is told: render, apply (apply/pipeline.ts), then the log line, the metrics
 * and the outcome for --onetime. A failure never throws out of here; a failure that is not a TargetError is a
 * bug in reconfig (stage `internal`), logged with its stack.
 */
import { applyTarget } from '../apply/pipeline';
import type { Target } from '../target';
import { TargetError, errorMessage } from '../errors';
import type { Logger } from '../log';
import type { Observer } from './ports';

export interface Outcome {
  id: string;
  ok: boolean;
  changed: boolean;
  reloaded: boolean;
  revision: number;
  error?: TargetError;
}

/**
 * How the target stands after its last apply: `reload-owed` when the file is in place but its reload failed (the
 * next apply reloads even if the bytes are unchanged), `failing` after any other failure.
 */
export type Standing = 'new' | 'ok' | 'failing' | 'reload-owed';

export interface ReportContext {
  notreally: boolean;
  skipReload?: boolean;
  log: Logger;
  observer: Observer;
  print: (text: string) => void;
}

export async function applyAndReport(
  t: Target,
  revision: number,
  render: () => Promise<string>,
  standing: Standing,
  ctx: ReportContext,
): Promise<Outcome & { standing: Standing }> {
  const { log, observer } = ctx;
  const started = performance.now();
  try {
    const content = await render();
    const res = await applyTarget(t, content, {
      notreally: ctx.notreally,
      skipReload: ctx.skipReload,
      reloadPending: standing === 'reload-owed',
      onOutput: (stage, output) => {
        if (output.trim()) log.debug({ stage, output }, `${stage}cmd output`);
      },
    });
    observer.applied(t.id, res.changed, revision, content);
    const ms = Math.round((performance.now() - started) * 10) / 10;
    if (standing === 'failing' || standing === 'reload-owed') log.info('target recovered');
    if (ctx.notreally) {
      ctx.print(res.diff ?? `# ${t.id}: ${t.dest} unchanged\n`);
      log.info({ changed: res.changed }, res.changed ? 'would change (not really)' : 'unchanged');
    } else if (res.changed || res.reloaded) {
      log.info({ changed: res.changed, reloaded: res.reloaded, ms }, res.changed ? 'applied' : 'reloaded');
    } else {
      log.debug('unchanged');
    }
    return { id: t.id, ok: true, changed: res.changed, reloaded: res.reloaded, revision, standing: 'ok' };
  } catch (err) {
    // Every stage wraps its own failures; anything else is a bug in reconfig.
    const error = err instanceof TargetError ? err : new TargetError(t.id, 'internal', err);
    observer.failed(t.id, error.stage, errorMessage(error.cause));
    if (error.stage === 'internal') {
      log.fatal({ stage: error.stage, err: error.cause }, `internal error (a bug in reconfig); the target keeps its bytes: ${errorMessage(error.cause)}`);
    } else {
      const cause = error.cause as { output?: string; code?: number | null } | undefined;
      const what = error.stage === 'hold' ? 'held' : `${error.stage} failed`;
      log.error(
        { stage: error.stage, err: errorMessage(error.cause), exitCode: cause?.code, output: cause?.output },
        `${what}; ${error.stage === 'reload' ? 'the new file stays' : 'the target keeps its bytes'}`,
      );
    }
    // The file is in place but the daemon may not have read it: reload again next time.
    const next: Standing = error.stage === 'reload' || standing === 'reload-owed' ? 'reload-owed' : 'failing';
    return { id: t.id, ok: false, changed: false, reloaded: false, revision, error, standing: next };
  }
}

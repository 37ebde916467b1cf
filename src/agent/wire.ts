/**
 * The one place that decides what feeds a target's runner. etcd itself is the Feed (feed.ts), shared by every
 * keyed runner so that all of them ride one watch stream (and --onetime reads every target at one revision); the
 * other sources are built here, in `sourcesFor`: a new kind of source is a new class, one line there, and the
 * template name of its input in render/template.ts's SOURCE_INPUTS. The runner does not change: it waits for
 * every input its sources provide, by name, and hands them to the render. `wire` serves the watching agent,
 * --onetime, sidecar mode's first pass and `reconfig render` alike.
 */
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { History } from '../apply/history';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import type { DockerOptions, Target } from '../target';
import type { InputSink, Source } from './ports';
import { RolloutGate } from '../rollout/gate';
import { TargetRunner, type RunnerContext, type RunnerOptions } from './runner';

/** Docker containers (docker-gen): listed now, then again after each container event. dockerode loads only here. */
class DockerSource implements Source {
  readonly provides = 'containers';

  constructor(
    private readonly opts: DockerOptions,
    private readonly log: Logger,
  ) {}

  async prime(sink: InputSink): Promise<void> {
    const { listContainersOnce } = await import('../docker/containers');
    sink.provide(this.provides, await listContainersOnce(this.opts));
  }

  follow(sink: InputSink, signal: AbortSignal): void {
    import('../docker/watch').then(
      ({ ContainerWatch }) => {
        if (signal.aborted) return;
        const w = new ContainerWatch(this.opts, (list) => sink.provide(this.provides, list), this.log, (err) => sink.unavailable(this.provides, err));
        signal.addEventListener('abort', () => w.stop(), { once: true });
        w.start();
      },
      (err: unknown) => sink.unavailable(this.provides, new Error(`cannot load the Docker client: ${errorMessage(err)}`, { cause: err })),
    );
  }
}

/** A plugin target with no key: render now, then every interval. */
class IntervalSource implements Source {
  constructor(private readonly everyMs: number) {}

  prime(): Promise<void> {
    return Promise.resolve();
  }

  follow(sink: InputSink, signal: AbortSignal): void {
    sink.refresh();
    const timer = setInterval(() => sink.refresh(), this.everyMs);
    signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  }
}

/**
 * A target with `history`: `reconfig rollback` runs beside the agent and leaves its hold in the state directory;
 * the runner renders again when that file changes, so that it honours the hold (and the fleet report says so)
 * now, not at the next change, SIGHUP or resync. Polled (a stat every HOLD_POLL_MS): the directory may not exist
 * yet, and inotify would need it to.
 */
class HoldSource implements Source {
  constructor(private readonly file: string) {}

  prime(): Promise<void> {
    return Promise.resolve();
  }

  follow(sink: InputSink, signal: AbortSignal): void {
    if (signal.aborted) return;
    const changed = (now: Stats, before: Stats): void => {
      if (now.mtimeMs !== before.mtimeMs || now.ino !== before.ino || now.nlink !== before.nlink) sink.refresh();
    };
    watchFile(this.file, { interval: HOLD_POLL_MS, persistent: false }, changed);
    signal.addEventListener('abort', () => unwatchFile(this.file, changed), { once: true });
  }
}

const HOLD_POLL_MS = 1000;

/** A target's runner, and its sources other than etcd; the runner waits for the input each of them provides. */
export interface Wired {
  runner: TargetRunner;
  sources: Source[];
}

export function wire(t: Target, ctx: RunnerContext, opts: Omit<RunnerOptions, 'needs' | 'gated'> = {}): Wired {
  const sources = sourcesFor(t, ctx.log);
  const needs = sources.flatMap((s) => (s.provides === undefined ? [] : [s.provides]));
  // A later wave of a rollout (src/rollout/): its etcd data comes through the gate, as of a proven revision.
  const gated = ctx.rollout !== undefined && ctx.rollout.wave > 0 && t.rollout !== undefined && t.keys.length > 0 && !opts.manual;
  if (gated) sources.push(new RolloutGate(t, ctx.rollout!, ctx.log.child({ target: t.id })));
  if (t.history && !ctx.notreally && !opts.manual) sources.push(new HoldSource(new History(t.history.dir, t.history.keep).holds.file));
  return { runner: new TargetRunner(t, ctx, { ...opts, needs, gated }), sources };
}

/**
 * Gives each runner its sources' input once (--onetime, sidecar mode's first pass, `reconfig render`). A source
 * that fails marks its own runner's input unavailable: that target fails at stage `read`, the others go on.
 */
export async function primeAll(wired: readonly Wired[]): Promise<void> {
  await Promise.all(
    wired.flatMap(({ runner, sources }) =>
      sources.map((s) =>
        s.prime(runner).catch((err: unknown) => runner.unavailable(s.provides ?? 'input', err instanceof Error ? err : new Error(errorMessage(err)))),
      ),
    ),
  );
}

/** The sources of a target other than etcd. */
function sourcesFor(t: Target, log: Logger): Source[] {
  const sources: Source[] = [];
  if (t.docker) sources.push(new DockerSource(t.docker, log.child({ target: t.id })));
  else if (t.keys.length === 0 && t.intervalMs !== undefined) sources.push(new IntervalSource(t.intervalMs));
  return sources;
}

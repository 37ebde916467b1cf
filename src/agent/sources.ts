/**
 * What feeds a runner besides etcd, behind one shape (remco's backends, Kubernetes' informers): a source gives
 * its runner input once (`prime`: --onetime, sidecar mode's first pass, `reconfig render`) or keeps giving it as
 * it changes (`follow`: the watching agent). etcd itself is the Feed (feed.ts), shared by every keyed runner so
 * that all of them ride one watch stream (and --onetime reads every target at one revision). Which sources a
 * target has is decided here, in `sourcesFor`: a new kind of source is a new class, one line there, and the
 * template name of its input in render/template.ts's SOURCE_INPUTS. The runner does not change: it waits for
 * every input its sources provide, by name, and hands them to the render.
 */
import type { Target } from '../target';
import type { Logger } from '../log';
import { TargetRunner, type RunnerContext } from './runner';

/** Where a source delivers: a runner, or `reconfig render`'s one-off stand-in. */
export interface InputSink {
  /** The source's input `name` is now `value` (the first time, then each change). */
  provide(name: string, value: unknown): void;
  /** Something outside etcd may have changed (a plugin's interval came round): render again. */
  refresh(): void;
}

export interface Source {
  /** The template name of the input it gives, which the target waits for before its first render; none for a timer. */
  readonly provides?: string;
  /** Gives the sink its input once, now. */
  prime(sink: InputSink): Promise<void>;
  /** Keeps giving the sink input as it changes, until `signal` aborts. */
  follow(sink: InputSink, signal: AbortSignal): void;
}

/** Docker containers (docker-gen): listed now, then again after each container event. dockerode loads only here. */
class DockerSource implements Source {
  readonly provides = 'containers';

  constructor(
    private readonly opts: NonNullable<Target['docker']>,
    private readonly log: Logger,
  ) {}

  async prime(sink: InputSink): Promise<void> {
    const { listContainersOnce } = await import('../docker/containers');
    sink.provide(this.provides, await listContainersOnce(this.opts));
  }

  follow(sink: InputSink, signal: AbortSignal): void {
    void import('../docker/watch').then(({ ContainerWatch }) => {
      if (signal.aborted) return;
      const w = new ContainerWatch(this.opts, (list) => sink.provide(this.provides, list), this.log);
      signal.addEventListener('abort', () => w.stop(), { once: true });
      w.start();
    });
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
 * A target's runner and its sources other than etcd: the one place that decides which sources feed a runner.
 * The runner waits for the input each of them provides before its first render.
 */
export function wire(t: Target, ctx: RunnerContext, opts: { signal?: AbortSignal; manual?: boolean } = {}): [TargetRunner, Source[]] {
  const sources = sourcesFor(t, ctx.log);
  const needs = sources.flatMap((s) => (s.provides === undefined ? [] : [s.provides]));
  return [new TargetRunner(t, ctx, { ...opts, needs }), sources];
}

/** The sources of a target other than etcd. */
export function sourcesFor(t: Target, log: Logger): Source[] {
  const sources: Source[] = [];
  if (t.docker) sources.push(new DockerSource(t.docker, log.child({ target: t.id })));
  else if (t.etcdKey === undefined && t.intervalMs !== undefined) sources.push(new IntervalSource(t.intervalMs));
  return sources;
}

/**
 * What feeds a runner besides etcd, behind one shape (remco's backends, Kubernetes' informers): a source gives
 * its runner input once (`prime`: --onetime, sidecar mode's first pass, `reconfig render`) or keeps giving it as
 * it changes (`follow`: the watching agent). etcd itself is the Feed (feed.ts), shared by every keyed runner so
 * that all of them ride one watch stream. Which sources a target has is decided here, in `sourcesFor`: a new
 * kind of source is a new class and one line there.
 */
import type { Target } from '../config/target';
import type { Container } from '../docker/containers';
import type { Logger } from '../log';

/** Where a source delivers: a runner, or `reconfig render`'s one-off stand-in. */
export interface InputSink {
  /** The containers of a Docker target: the first list, then each change. */
  setContainers(list: Container[]): void;
  /** Something outside etcd may have changed (a plugin's interval came round): render again. */
  refresh(): void;
}

export interface Source {
  /** Gives the sink its input once, now. */
  prime(sink: InputSink): Promise<void>;
  /** Keeps giving the sink input as it changes, until `signal` aborts. */
  follow(sink: InputSink, signal: AbortSignal): void;
}

/** Docker containers (docker-gen): listed now, then again after each container event. dockerode loads only here. */
export class DockerSource implements Source {
  constructor(
    private readonly opts: NonNullable<Target['docker']>,
    private readonly log: Logger,
  ) {}

  async prime(sink: InputSink): Promise<void> {
    const { listContainersOnce } = await import('../docker/containers');
    sink.setContainers(await listContainersOnce(this.opts));
  }

  follow(sink: InputSink, signal: AbortSignal): void {
    void import('../docker/watch').then(({ ContainerWatch }) => {
      if (signal.aborted) return;
      const w = new ContainerWatch(this.opts, (list) => sink.setContainers(list), this.log);
      signal.addEventListener('abort', () => w.stop(), { once: true });
      w.start();
    });
  }
}

/** A plugin target with no key: render now, then every interval. */
export class IntervalSource implements Source {
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

/** The sources of a target other than etcd. */
export function sourcesFor(t: Target, log: Logger): Source[] {
  const sources: Source[] = [];
  if (t.docker) sources.push(new DockerSource(t.docker, log.child({ target: t.id })));
  else if (t.etcdKey === undefined && t.intervalMs !== undefined) sources.push(new IntervalSource(t.intervalMs));
  return sources;
}

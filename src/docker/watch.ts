/**
 * Keeps a target's container list current: one list at start, then a new list after each container start, die
 * or stop event from the Engine API's event stream. A broken stream is logged once and reopened with backoff,
 * with a fresh list on reconnect, since events may have been missed meanwhile.
 */
import type Docker from 'dockerode';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import { dockerClient, listContainers, type Container, type DockerOptions } from './containers';

/** Events after which the list may differ. podman adds `cleanup` after `die`, when the state has settled. */
const EVENTS = new Set(['start', 'die', 'stop', 'kill', 'destroy', 'remove', 'rename', 'update', 'cleanup', 'pause', 'unpause']);
/** A container's state can lag its event: list once more this long after the last event. */
const SETTLE_MS = 500;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;

export class ContainerWatch {
  private readonly docker: Docker;
  private stream: NodeJS.ReadableStream | null = null;
  private stopped = false;
  private refreshing = false;
  private again = false;
  private broken = false;
  private timer: NodeJS.Timeout | null = null;
  private settle: NodeJS.Timeout | null = null;
  private backoff = BACKOFF_MIN_MS;

  constructor(
    private readonly opts: DockerOptions,
    private readonly onChange: (containers: Container[]) => void,
    private readonly log: Logger,
    /** The API could not be reached or listed: called once per outage, when it begins. */
    private readonly onFailure: (err: Error) => void = () => undefined,
  ) {
    this.docker = dockerClient(opts.socket);
  }

  start(): void {
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    try {
      // Filtered here rather than by the engine: engines differ in the event names they know.
      const stream = await this.docker.getEvents({ filters: JSON.stringify({ type: ['container'] }) });
      if (this.stopped) {
        (stream as unknown as { destroy?: () => void }).destroy?.();
        return;
      }
      this.stream = stream;
      let buffered = '';
      stream.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        if (lines.some((l) => EVENTS.has(eventAction(l)))) this.changed();
      });
      stream.on('error', (err: Error) => this.lost(err));
      stream.on('end', () => this.lost(new Error('event stream ended')));
      if (this.broken) this.log.info({ socket: this.opts.socket }, 'Docker event stream reopened');
      this.broken = false;
      this.backoff = BACKOFF_MIN_MS;
      this.refresh();
    } catch (err) {
      this.lost(err);
    }
  }

  private lost(err: unknown): void {
    if (this.stopped) return;
    this.stream = null;
    if (!this.broken) {
      this.log.warn({ socket: this.opts.socket }, `Docker API on ${this.opts.socket}: ${errorMessage(err)}; retrying`);
      this.onFailure(new Error(`Docker API on ${this.opts.socket}: ${errorMessage(err)}`, { cause: err }));
    }
    this.broken = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, this.backoff);
    this.backoff = Math.min(BACKOFF_MAX_MS, this.backoff * 2);
  }

  /** An event: list now, and once more when things have settled. */
  private changed(): void {
    this.refresh();
    if (this.settle) clearTimeout(this.settle);
    this.settle = setTimeout(() => {
      this.settle = null;
      this.refresh();
    }, SETTLE_MS);
  }

  /** Lists again; events that arrive during a list make one more list afterwards. */
  private refresh(): void {
    if (this.refreshing) {
      this.again = true;
      return;
    }
    this.refreshing = true;
    void listContainers(this.docker, this.opts)
      .then((list) => {
        if (!this.stopped) this.onChange(list);
      })
      .catch((err: unknown) => this.lost(err))
      .finally(() => {
        this.refreshing = false;
        if (this.again && !this.stopped) {
          this.again = false;
          this.refresh();
        }
      });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.settle) clearTimeout(this.settle);
    (this.stream as unknown as { destroy?: () => void } | null)?.destroy?.();
  }
}

/** The event's action (`status` in older engines), or "" for a line that is not an event. */
function eventAction(line: string): string {
  try {
    const e = JSON.parse(line) as { Action?: string; status?: string };
    return (e.Action ?? e.status ?? '').split(':')[0];
  } catch {
    return '';
  }
}

/** Signals or restarts the containers that match `filters` (a target's `notify`); returns their names. */
export async function notifyContainers(opts: DockerOptions & { signal?: string; restart?: boolean }): Promise<string[]> {
  const docker = dockerClient(opts.socket);
  const list = await listContainers(docker, opts);
  if (list.length === 0) throw new Error(`notify: no running container matches ${JSON.stringify(opts.filters)} on ${opts.socket}`);
  await Promise.all(
    list.map(async (c) => {
      const container = docker.getContainer(c.id);
      try {
        if (opts.restart) await container.restart();
        else await container.kill({ signal: opts.signal ?? 'SIGHUP' });
      } catch (err) {
        throw new Error(`notify: ${opts.restart ? 'restart' : `${opts.signal ?? 'SIGHUP'} to`} container ${c.name} failed: ${errorMessage(err)}`, { cause: err });
      }
    }),
  );
  return list.map((c) => c.name);
}

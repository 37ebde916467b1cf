/**
 * Keeps a target's container list current: one list at start, then a new list after each container start, die
 * or stop event from the Engine API's event stream. A broken stream, or a list that fails, is logged once:
 * the stream is closed and reopened with growing backoff, with a fresh list on reconnect, since events may
 * have been missed meanwhile. Only a list that succeeds ends the outage (and resets the backoff): an engine
 * that opens the stream but refuses every list (a filter it does not know) is retried ever more slowly.
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

/** dockerode types the event stream as a ReadableStream, which has no destroy(); the object it gives has. */
type EventStream = NodeJS.ReadableStream & { destroy?: () => void };

/** Where the event stream stands. Each transition is one method: connect(), opened(), lost(), stop(). */
type Connection =
  | { kind: 'idle' }
  | { kind: 'connecting' }
  | { kind: 'open'; stream: EventStream }
  | { kind: 'waiting'; timer: NodeJS.Timeout }
  | { kind: 'stopped' };

export class ContainerWatch {
  private readonly docker: Docker;
  private conn: Connection = { kind: 'idle' };
  private refreshing = false;
  private again = false;
  /** The outage was logged and no list has succeeded on an open stream since. */
  private broken = false;
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
    if (this.conn.kind === 'idle') void this.connect();
  }

  private async connect(): Promise<void> {
    this.conn = { kind: 'connecting' };
    let stream: EventStream;
    try {
      // Filtered here rather than by the engine: engines differ in the event names they know.
      stream = await this.docker.getEvents({ filters: JSON.stringify({ type: ['container'] }) });
    } catch (err) {
      this.lost('connecting', `Docker API on ${this.opts.socket}: cannot open the event stream: ${errorMessage(err)}`);
      return;
    }
    if (this.conn.kind !== 'connecting') {
      // Stopped meanwhile.
      stream.destroy?.();
      return;
    }
    this.opened(stream);
  }

  private opened(stream: EventStream): void {
    this.conn = { kind: 'open', stream };
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      if (this.isOpen(stream) && lines.some((l) => EVENTS.has(eventAction(l)))) this.changed();
    });
    stream.on('error', (err: Error) => this.lost(stream, `Docker API on ${this.opts.socket}: event stream: ${errorMessage(err)}`));
    stream.on('end', () => this.lost(stream, `Docker API on ${this.opts.socket}: event stream ended`));
    this.refresh();
  }

  private isOpen(stream: EventStream | null): boolean {
    return stream !== null && this.conn.kind === 'open' && this.conn.stream === stream;
  }

  /**
   * The stream `from` broke, or a list failed while it was open; or, with 'connecting', it could not be opened.
   * Closes the stream, so that it holds no connection and delivers no more events, and reconnects after the
   * backoff. News about a stream that is no longer the open one (or after stop) changes nothing.
   */
  private lost(from: EventStream | 'connecting', why: string): void {
    if (from === 'connecting' ? this.conn.kind !== 'connecting' : !this.isOpen(from)) return;
    this.drop();
    if (!this.broken) {
      this.log.warn({ socket: this.opts.socket }, `${why}; retrying`);
      this.onFailure(new Error(why));
    }
    this.broken = true;
    const timer = setTimeout(() => void this.connect(), this.backoff);
    this.conn = { kind: 'waiting', timer };
    this.backoff = Math.min(BACKOFF_MAX_MS, this.backoff * 2);
  }

  /** Closes the stream if one is open; its `end` or `error` after this is news about an old stream. */
  private drop(): void {
    if (this.conn.kind === 'open') this.conn.stream.destroy?.();
    else if (this.conn.kind === 'waiting') clearTimeout(this.conn.timer);
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
    // A list that fails while no stream is open changes nothing: the reconnect under way lists again.
    const during = this.conn.kind === 'open' ? this.conn.stream : null;
    void listContainers(this.docker, this.opts)
      .then((list) => {
        if (this.conn.kind === 'stopped') return;
        if (this.broken && this.isOpen(during)) {
          this.log.info({ socket: this.opts.socket }, 'Docker event stream reopened');
          this.broken = false;
          this.backoff = BACKOFF_MIN_MS;
        }
        this.onChange(list);
      })
      .catch((err: unknown) => {
        if (during) this.lost(during, errorMessage(err));
      })
      .finally(() => {
        this.refreshing = false;
        if (this.again && this.conn.kind !== 'stopped') {
          this.again = false;
          this.refresh();
        }
      });
  }

  stop(): void {
    this.drop();
    this.conn = { kind: 'stopped' };
    if (this.settle) clearTimeout(this.settle);
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

/**
 * Which etcd member to talk to. Reads and the watch go to one member at a time, in the source's order of
 * preference; a member that fails hands over to the next. When every member has failed in a row, a dynamic
 * source (DNS SRV) is asked again, because records change when clusters move.
 */
import { EtcdError, errorMessage } from '../errors';
import { classify } from './classify';
import { endpointLabel, type Endpoint, type EndpointSource } from './endpoints';

export class Members {
  private list: Endpoint[] = [];
  private index = 0;
  private failuresInRow = 0;
  private stale = false;

  constructor(
    readonly source: EndpointSource,
    private readonly warn: (message: string) => void = () => undefined,
  ) {}

  /** The member to use now. The first call resolves the source, and its errors (a bad SRV name) propagate. */
  async current(): Promise<Endpoint> {
    if (this.list.length === 0) {
      this.list = await this.source.resolve();
      this.index = 0;
    } else if (this.stale) {
      this.stale = false;
      try {
        const next = await this.source.resolve();
        if (!sameList(next, this.list)) {
          this.warn(`${this.source.describe} now gives ${next.map(endpointLabel).join(', ')}`);
          this.list = next;
          this.index = 0;
        }
      } catch (err) {
        this.warn(`${this.source.describe}: could not resolve again, keeping the old list: ${errorMessage(err)}`);
      }
    }
    return this.list[this.index];
  }

  /** current(), with a resolve failure (a bad SRV name, no nameserver) as an EtcdError naming what was asked. */
  async endpoint(): Promise<Endpoint> {
    try {
      return await this.current();
    } catch (err) {
      throw classify(err, this.source.describe, 'resolve');
    }
  }

  /**
   * Runs `call` on the current member and, while members fail, on each next one: one round at most. Errors for
   * which `passThrough` is true are thrown as they are; an auth failure stops the round (another member would
   * say the same). When every member failed, the error lists each one.
   */
  async tryEach<T>(what: 'read' | 'watch', call: (e: Endpoint) => Promise<T>, passThrough?: (err: unknown) => boolean): Promise<T> {
    let endpoint = await this.endpoint();
    const failures: EtcdError[] = [];
    for (;;) {
      try {
        const result = await call(endpoint);
        this.succeeded();
        return result;
      } catch (err) {
        if (passThrough?.(err)) throw err;
        const e = classify(err, endpointLabel(endpoint), what);
        if (e.kind === 'auth') throw e;
        failures.push(e);
        this.failed();
        if (failures.length >= this.list.length) break;
        endpoint = await this.endpoint();
      }
    }
    if (failures.length === 1) throw failures[0];
    const kinds = new Set(failures.map((f) => f.kind));
    throw new EtcdError(`etcd ${what} failed on every member: ${failures.map((f) => f.message).join('; ')}`, {
      kind: kinds.size === 1 ? failures[0].kind : 'unreachable',
      cause: new AggregateError(failures, 'every member failed'),
    });
  }

  /** The current member failed: the next call uses the next one, or resolves again after a full round. */
  failed(): void {
    if (this.list.length === 0) return;
    this.failuresInRow += 1;
    this.index = (this.index + 1) % this.list.length;
    if (this.failuresInRow >= this.list.length) {
      this.failuresInRow = 0;
      if (this.source.dynamic) this.stale = true;
    }
  }

  succeeded(): void {
    this.failuresInRow = 0;
  }

  /** Every known member, for messages (the source's description before the first resolve). */
  get labels(): string[] {
    return this.list.length > 0 ? this.list.map(endpointLabel) : [this.source.describe];
  }
}

function sameList(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  return a.length === b.length && a.every((e, i) => e.url === b[i].url && e.serverName === b[i].serverName);
}

/**
 * Which etcd member to talk to. Reads and the watch go to one member at a time, in the source's order of
 * preference; a member that fails hands over to the next. When every member has failed in a row, a dynamic
 * source (DNS SRV) is asked again, because records change when clusters move.
 */
import { errorMessage } from '../errors';
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

/**
 * One key kept alive on a lease: the agent's fleet report (`--report`). The key vanishes TTL seconds after the
 * agent dies (its keep-alives stop), and at once when it stops (the lease is revoked). A lost lease (etcd
 * restarted past the TTL, a member change) is replaced on the next write.
 */
import { EtcdLeaseInvalidError, type Etcd3, type Lease } from 'etcd3';
import { classify } from './classify';

export class Presence {
  private lease: Lease | null = null;

  constructor(
    private readonly client: () => Promise<Etcd3>,
    private readonly key: string,
    private readonly ttlSeconds: number,
    /** The lease was lost: the key is gone until the next write. */
    private readonly onLost: () => void = () => undefined,
  ) {}

  /** Puts `value` under the key, on the lease (granted first if there is none). Throws an EtcdError. */
  async write(value: string): Promise<void> {
    try {
      if (!this.lease || this.lease.revoked()) {
        const lease = (await this.client()).lease(this.ttlSeconds);
        // Lost: the next write grants a new one. (The error is the write's to report, not the keep-alive's.)
        lease.on('lost', () => {
          if (this.lease !== lease) return;
          this.lease = null;
          this.onLost();
        });
        this.lease = lease;
      }
      await this.lease.put(this.key).value(value);
    } catch (err) {
      // A refused put (no permission, a member down) leaves the lease alive: the next write reuses it rather than
      // granting another each time. A lease that failed or that etcd no longer knows is let go.
      const lease = this.lease;
      if (lease && (lease.revoked() || err instanceof EtcdLeaseInvalidError)) {
        this.lease = null;
        lease.release();
      }
      throw classify(err, this.key, 'write');
    }
  }

  /** Revokes the lease, so that the key goes at once. */
  async close(): Promise<void> {
    const lease = this.lease;
    this.lease = null;
    await lease?.revoke().catch(() => undefined);
  }
}

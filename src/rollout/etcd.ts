/**
 * The rollout's calls to etcd that the Store does not make: a target's keys read at a given (proven) revision,
 * through the agent's own client. The one module of src/rollout that touches the etcd3 client's calls besides
 * the coordinator's election; the paging is etcd/snapshot.ts's.
 */
import type { Etcd3 } from 'etcd3';
import { errorMessage } from '../errors';
import { classify } from '../etcd/classify';
import { PAGE, readSnapshot } from '../etcd/snapshot';
import type { KeySpec, Snapshot } from '../etcd/store';

/** etcd no longer holds the revision asked for. */
export class CompactedError extends Error {}

/** Every key of `specs` as of `revision`; a CompactedError when etcd has compacted it, else an EtcdError. */
export async function snapshotAt(client: Etcd3, specs: readonly KeySpec[], revision: number): Promise<Snapshot> {
  try {
    return await readSnapshot(specs, {
      txnRanges: async (ranges) => {
        const res = await client.kv.txn({
          success: ranges.map((r) => ({ request_range: { key: r.start, range_end: r.end, revision, limit: PAGE } })),
        });
        return { revision, cluster: res.header.cluster_id, pages: res.responses.map((r) => r.response_range) };
      },
      range: (start, end) => client.kv.range({ key: start, range_end: end, revision, limit: PAGE }),
    });
  } catch (err) {
    const what = `the keys ${specs.map((s) => s.key).join(', ')} at revision ${revision}`;
    if (/required revision has been compacted/.test(errorMessage(err))) throw new CompactedError(`${what}: etcd has compacted that revision`, { cause: err });
    throw classify(err, what, 'read');
  }
}

/**
 * Reading many key specs at one revision, whatever the transport: ranges go in read transactions of up to
 * TXN_OPS, one round trip each; the first fixes the revision and the others read at it; a range with more than
 * PAGE keys is read on in pages at that same revision, so no single response grows without bound.
 */
import { specRange, specWants, type KeySpec, type KV, type Snapshot } from './store';

/** Ranges per read transaction: etcd's default --max-txn-ops. */
export const TXN_OPS = 128;
/** Keys per range response. */
export const PAGE = 5000;

export interface Page {
  kvs: Array<{ key: Buffer; value: Buffer }>;
  more: boolean;
}

/** The two calls a transport (gRPC, or etcd's JSON gateway) provides for a snapshot. */
export interface RangeReader {
  /** One transaction of range reads, at `revision` or the newest. */
  txnRanges(
    ranges: Array<{ start: Buffer; end: Buffer }>,
    revision: number | undefined,
  ): Promise<{ revision: number; cluster?: string; pages: Page[] }>;
  /** One range read at `revision`. */
  range(start: Buffer, end: Buffer, revision: number): Promise<Page>;
}

export async function readSnapshot(specs: readonly KeySpec[], reader: RangeReader): Promise<Snapshot> {
  if (specs.length === 0) {
    const { revision, cluster } = await reader.txnRanges([], undefined);
    return { revision, cluster, kvs: [] };
  }
  const batches: KeySpec[][] = [];
  for (let i = 0; i < specs.length; i += TXN_OPS) batches.push(specs.slice(i, i + TXN_OPS));
  const first = await readBatch(batches[0], undefined, reader);
  const rest = await Promise.all(batches.slice(1).map((b) => readBatch(b, first.revision, reader)));
  return { revision: first.revision, cluster: first.cluster, kvs: [first, ...rest].flatMap((b) => b.kvs) };
}

async function readBatch(
  specs: readonly KeySpec[],
  revision: number | undefined,
  reader: RangeReader,
): Promise<{ revision: number; cluster?: string; kvs: KV[][] }> {
  const ranges = specs.map(specRange);
  const res = await reader.txnRanges(ranges, revision);
  const kvs = await Promise.all(
    specs.map(async (spec, i) => {
      const out: KV[] = [];
      let page = res.pages[i];
      for (;;) {
        for (const kv of page.kvs) {
          const key = kv.key.toString('utf8');
          if (specWants(spec, key)) out.push({ key, value: kv.value.toString('utf8') });
        }
        if (!page.more || page.kvs.length === 0) return out;
        const after = Buffer.concat([page.kvs[page.kvs.length - 1].key, Buffer.from([0])]);
        page = await reader.range(after, ranges[i].end, res.revision);
      }
    }),
  );
  return { revision: res.revision, cluster: res.cluster, kvs };
}

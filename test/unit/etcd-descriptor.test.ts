/**
 * The single executable's etcd3 protos: the descriptor made at build time (scripts/bin/etcd-descriptor.ts),
 * loaded with fromJSON as the bundle does, must define what etcd3's own loadSync of rpc.proto defines: every
 * service, method, path, streaming flag and message type, field for field.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type * as ProtoLoader from '@grpc/proto-loader';
import { ETCD3_LOAD_OPTIONS, etcd3Descriptor, etcd3Dir, resolveFromEtcd3 } from '../../scripts/bin/etcd-descriptor';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the proto-loader etcd3 itself loads
const loader = require(resolveFromEtcd3('@grpc/proto-loader')) as typeof ProtoLoader;

/** A definition as data: for each name, its methods (path, streams, types) or its message/enum type. */
function shape(def: ProtoLoader.PackageDefinition): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(def)) {
    if ('format' in entry) {
      out[name] = { format: entry.format, type: entry.type };
      continue;
    }
    out[name] = Object.fromEntries(
      Object.entries(entry).map(([method, m]) => [
        method,
        { path: m.path, requestStream: m.requestStream, responseStream: m.responseStream, request: m.requestType.type, response: m.responseType.type },
      ]),
    );
  }
  return out;
}

test("the build-time descriptor defines what etcd3's rpc.proto does", () => {
  const fromFile = loader.loadSync(path.join(etcd3Dir(), 'proto', 'rpc.proto'), { ...ETCD3_LOAD_OPTIONS });
  const fromDescriptor = loader.fromJSON(etcd3Descriptor(), { ...ETCD3_LOAD_OPTIONS });
  assert.ok(Object.keys(fromFile).includes('etcdserverpb.Watch'), 'rpc.proto defines the Watch service');
  assert.deepEqual(shape(fromDescriptor), shape(fromFile));
});

test('field names keep their case, as etcd3 asks (keepCase): create_revision, not createRevision', () => {
  const def = loader.fromJSON(etcd3Descriptor(), { ...ETCD3_LOAD_OPTIONS });
  const kv = def['mvccpb.KeyValue'] as ProtoLoader.MessageTypeDefinition;
  const fields = (kv.type as { field: { name: string }[] }).field.map((f) => f.name);
  assert.ok(fields.includes('create_revision'), fields.join(', '));
});

/**
 * The single executable's etcd3 proto-loader (scripts/bin/bundle.ts): given the FileDescriptorProtos made at
 * build time, it must define exactly what etcd3's own loadSync of rpc.proto does, those bytes included; any
 * other caller must get them made as before.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import vm from 'node:vm';
import type * as ProtoLoader from '@grpc/proto-loader';
import { PRECOMPUTED_OPTION, patchProtoLoader } from '../../scripts/bin/bundle';
import { ETCD3_LOAD_OPTIONS, etcd3Descriptor, etcd3Dir, etcd3FileDescriptorProtos, resolveFromEtcd3 } from '../../scripts/bin/etcd-descriptor';

const file = resolveFromEtcd3('@grpc/proto-loader');
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the proto-loader etcd3 itself loads
const original = require(file) as typeof ProtoLoader;

/** The patched source, run as a CommonJS module beside the original (its own requires resolve from there). */
function patched(): typeof ProtoLoader {
  const source = patchProtoLoader(readFileSync(file, 'utf8'), file);
  const fn = vm.compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: file });
  const mod = { exports: {} as Record<string, unknown> };
  fn.call(mod.exports, mod.exports, createRequire(file), mod, file, path.dirname(file));
  return mod.exports as unknown as typeof ProtoLoader;
}

/** Every definition as data: methods (path, streams, types, descriptor bytes) or a message/enum type. */
function shape(def: ProtoLoader.PackageDefinition): Record<string, unknown> {
  const bytes = (list: Buffer[]): string[] => list.map((b) => Buffer.from(b).toString('hex'));
  const out: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(def)) {
    if ('format' in entry) {
      const t = entry as ProtoLoader.MessageTypeDefinition | ProtoLoader.EnumTypeDefinition;
      out[name] = { format: t.format, type: t.type, files: bytes(t.fileDescriptorProtos) };
      continue;
    }
    out[name] = Object.fromEntries(
      Object.entries(entry).map(([method, m]) => [
        method,
        { path: m.path, requestStream: m.requestStream, responseStream: m.responseStream, request: m.requestType.type, files: bytes(m.requestType.fileDescriptorProtos) },
      ]),
    );
  }
  return out;
}

const fromFile = (): ProtoLoader.PackageDefinition => original.loadSync(path.join(etcd3Dir(), 'proto', 'rpc.proto'), { ...ETCD3_LOAD_OPTIONS });

test("with the build-time FileDescriptorProtos, the bundle's proto-loader defines what etcd3's rpc.proto does, byte for byte", () => {
  const options = { ...ETCD3_LOAD_OPTIONS, [PRECOMPUTED_OPTION]: etcd3FileDescriptorProtos() };
  const def = patched().fromJSON(etcd3Descriptor(), options);
  const kv = def['mvccpb.KeyValue'] as ProtoLoader.MessageTypeDefinition;
  assert.ok(kv.fileDescriptorProtos.length >= 3, 'rpc.proto, kv.proto and auth.proto at least');
  assert.deepEqual(shape(def), shape(fromFile()));
});

test('without them it encodes the descriptors itself, as the original does', () => {
  assert.deepEqual(shape(patched().fromJSON(etcd3Descriptor(), { ...ETCD3_LOAD_OPTIONS })), shape(fromFile()));
  assert.deepEqual(shape(patched().loadSync(path.join(etcd3Dir(), 'proto', 'rpc.proto'))), shape(original.loadSync(path.join(etcd3Dir(), 'proto', 'rpc.proto'))));
});

test('a proto-loader that no longer encodes them where expected fails the build, naming the file', () => {
  assert.throws(() => patchProtoLoader('module.exports = {};', '/x/proto-loader/index.js'), /\/x\/proto-loader\/index\.js: expected one place .* found 0/);
});

/**
 * Build step for the single executable: etcd3 reads its .proto files from disk when it loads
 * (`loadSync(`${__dirname}/../proto/rpc.proto`)`), and inside an executable `__dirname` is the executable's own
 * folder. So the bundle carries the protos as a protobufjs JSON descriptor made here, at build time, and etcd3's
 * call becomes `fromJSON(<descriptor>)`, @grpc/proto-loader's way of loading a definition that is already parsed.
 */
import path from 'node:path';
import type * as Protobuf from 'protobufjs';

/** The options etcd3 passes to loadSync; the parse-time one (keepCase) must be applied when the descriptor is made. */
export const ETCD3_LOAD_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true } as const;

/** etcd3's package folder, as `require('etcd3')` finds it from here. */
export function etcd3Dir(): string {
  return path.dirname(path.dirname(require.resolve('etcd3')));
}

/** Resolves a package the way etcd3's own code does (npm may give etcd3 copies of its own). */
export function resolveFromEtcd3(name: string): string {
  return require.resolve(name, { paths: [path.join(etcd3Dir(), 'lib')] });
}

/** The protobufjs that etcd3's @grpc/proto-loader uses, so that the descriptor's format is the one it reads. */
function protobufOfProtoLoader(): typeof Protobuf {
  const loader = resolveFromEtcd3('@grpc/proto-loader');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- resolved at run time from proto-loader's folder
  return require(require.resolve('protobufjs', { paths: [path.dirname(loader)] })) as typeof Protobuf;
}

/** etcd3's rpc.proto and what it imports (kv.proto, auth.proto), parsed with etcd3's options, as JSON. */
export function etcd3Descriptor(): Protobuf.INamespace {
  const protobuf = protobufOfProtoLoader();
  const file = path.join(etcd3Dir(), 'proto', 'rpc.proto');
  const root = new protobuf.Root().loadSync(file, { keepCase: ETCD3_LOAD_OPTIONS.keepCase });
  root.resolveAll();
  return root.toJSON();
}

/**
 * The FileDescriptorProtos (base64) that @grpc/proto-loader computes from etcd3's protos at every load (it
 * encodes every file's descriptor, for gRPC reflection), made here once by that same proto-loader. Encoding
 * them at start-up was the one loop hot enough for V8 to optimize with TurboFan in an executable's start,
 * which left about 5 MB more of Node's code resident in an idle agent (docs/performance.md).
 */
export function etcd3FileDescriptorProtos(): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- resolved at run time from etcd3's folder
  const loader = require(resolveFromEtcd3('@grpc/proto-loader')) as typeof import('@grpc/proto-loader');
  const def = loader.fromJSON(etcd3Descriptor(), { ...ETCD3_LOAD_OPTIONS });
  const message = Object.values(def).find((d): d is import('@grpc/proto-loader').MessageTypeDefinition => 'format' in d);
  if (!message) throw new Error(`@grpc/proto-loader gave no message type for etcd3's protos`);
  return message.fileDescriptorProtos.map((b) => Buffer.from(b).toString('base64'));
}

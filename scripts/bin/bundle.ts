/**
 * Build step for the single executable: dist/src/cli.js and everything it loads, lazily or not, as one CommonJS
 * file, since the script inside a Node executable may require only Node's own modules. What the bundle must
 * not need at run time is checked here, and the build fails if it would:
 *  - no file beside it: etcd3's protos are inside, as a descriptor (etcd-descriptor.ts);
 *  - one grpc-js, so that the one src/etcd/grpc-log.ts names directly is the one etcd3 uses;
 *  - ssh2 stays out: docker-modem loads it for ssh:// Docker hosts only, and reconfig always hands dockerode a
 *    socket path (src/docker/containers.ts). A stand-in that says so takes its place (sshLeftOut). With it go
 *    its optional native add-ons (its crypto binding, cpu-features): nothing in the bundle names a native
 *    add-on any more, so nothing is left external.
 */
import { build, type Message, type Metafile, type Plugin } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { etcd3Descriptor, etcd3Dir, etcd3FileDescriptorProtos, resolveFromEtcd3 } from './etcd-descriptor';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** What etcd3 1.x calls at load; if an upgrade changes it, the build says so rather than ship a bundle that reads a file. */
const ETCD3_PROTO_CALL = '(0, proto_loader_1.loadSync)(`${__dirname}/../proto/rpc.proto`, {';

/** What etcd3's @grpc/proto-loader (0.7) does at every load to make the FileDescriptorProtos; patchProtoLoader replaces it. */
const PROTO_LOADER_DESCRIPTORS =
  "const descriptorList = root.toDescriptor('proto3').file;\n" +
  '    const bufferList = descriptorList.map(value => Buffer.from(descriptor.FileDescriptorProto.encode(value).finish()));';

/** The option through which etcd3's call hands proto-loader its FileDescriptorProtos, made at build time. */
export const PRECOMPUTED_OPTION = 'reconfigFileDescriptorProtos';

/**
 * etcd3's proto-loader, taking the FileDescriptorProtos from `options[PRECOMPUTED_OPTION]` (base64) when they
 * are given, instead of encoding every file's descriptor again at each start; any other caller gets them made
 * as before. `file` names the source in the error if proto-loader changed.
 */
export function patchProtoLoader(source: string, file: string): string {
  const parts = source.split(PROTO_LOADER_DESCRIPTORS);
  if (parts.length !== 2) {
    throw new Error(`${file}: expected one place where proto-loader encodes its FileDescriptorProtos, found ${parts.length - 1}; @grpc/proto-loader changed`);
  }
  const given = `options?.[${JSON.stringify(PRECOMPUTED_OPTION)}]`;
  return parts.join(
    `const bufferList = ${given} !== undefined ? ${given}.map((b) => Buffer.from(b, 'base64')) : ` +
      "root.toDescriptor('proto3').file.map(value => Buffer.from(descriptor.FileDescriptorProto.encode(value).finish()));",
  );
}

/** Warnings we know and accept, each with why: anything else fails the build. */
const ACCEPTED_WARNINGS: { text: RegExp; file: RegExp; why: string }[] = [];

export interface Bundle {
  file: string;
  bytes: number;
  /** Every npm package inside, as name@version with the license its package.json names. */
  packages: { name: string; version: string; license: string }[];
}

/**
 * etcd3's connection-pool.js with `loadSync(<file>)` turned into `fromJSON(<descriptor made now>)`, its
 * FileDescriptorProtos made now too (patchProtoLoader).
 */
function protosInside(): Plugin {
  const pool = path.join(etcd3Dir(), 'lib', 'connection-pool.js');
  const loader = resolveFromEtcd3('@grpc/proto-loader');
  return {
    name: 'etcd3-protos-inside',
    setup(b) {
      // Only etcd3's copy: dockerode's grpc-js brings a proto-loader of its own, left as it is.
      b.onLoad({ filter: /[\\/]@grpc[\\/]proto-loader[\\/]build[\\/]src[\\/]index\.js$/ }, (args) =>
        args.path === loader ? { contents: patchProtoLoader(readFileSync(loader, 'utf8'), loader), loader: 'js' } : undefined,
      );
      b.onLoad({ filter: /[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/ }, (args) => {
        if (args.path !== pool) throw new Error(`a second etcd3 in the bundle: ${args.path} (expected only ${pool})`);
        const source = readFileSync(pool, 'utf8');
        const parts = source.split(ETCD3_PROTO_CALL);
        if (parts.length !== 2) {
          throw new Error(`${pool}: expected one \`${ETCD3_PROTO_CALL}\`, found ${parts.length - 1}; etcd3 changed how it loads its protos`);
        }
        // etcd3's options object follows the call unchanged (longs: String, enums: String, ...); keepCase, a
        // parse-time option, was applied when the descriptor was made.
        const call = `(0, proto_loader_1.fromJSON)(${JSON.stringify(etcd3Descriptor())}, { ${PRECOMPUTED_OPTION}: ${JSON.stringify(etcd3FileDescriptorProtos())},`;
        return { contents: parts.join(call), loader: 'js' };
      });
    },
  };
}

/** ssh2's stand-in: what the executable says if anything ever asks for a Docker connection over SSH. */
const SSH_LEFT_OUT = 'Docker over SSH is not in the reconfig executable: reconfig reaches Docker through its socket';

/**
 * ssh2 (with tweetnacl and bcrypt-pbkdf, about 450 KB of the script's 2.6 MB, every byte of it resident in an
 * idle agent) is replaced by a module whose Client throws SSH_LEFT_OUT.
 */
function sshLeftOut(): Plugin {
  return {
    name: 'ssh2-left-out',
    setup(b) {
      b.onResolve({ filter: /^ssh2$/ }, () => ({ path: 'ssh2', namespace: 'reconfig-left-out' }));
      b.onLoad({ filter: /^ssh2$/, namespace: 'reconfig-left-out' }, () => ({
        contents: `class Client { constructor() { throw new Error(${JSON.stringify(SSH_LEFT_OUT)}); } }\nmodule.exports = { Client };\n`,
        loader: 'js',
      }));
    },
  };
}

/** The package folder an input file is in (the innermost node_modules/<name>/), or null for our own code. */
function packageOf(input: string): string | null {
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+\/)/.exec(input);
  return m ? m[1] : null;
}

type PackageJson = { name: string; version: string; license?: string; licenses?: { type: string }[] };

/** Each package folder in the bundle, checked for a single grpc-js and no protos read from disk. */
function packagesIn(meta: Metafile): Bundle['packages'] {
  const dirs = new Set<string>();
  for (const input of Object.keys(meta.inputs)) {
    const dir = packageOf(input);
    if (dir) dirs.add(dir);
  }
  const packages = [...dirs].map((dir) => {
    const json = JSON.parse(readFileSync(path.join(ROOT, dir, 'package.json'), 'utf8')) as PackageJson;
    const license = json.license ?? json.licenses?.map((l) => l.type).join(' OR ') ?? 'see its package.json';
    return { dir, name: json.name, version: json.version, license };
  });
  const grpc = packages.filter((p) => p.name === '@grpc/grpc-js');
  if (grpc.length !== 1) throw new Error(`expected one @grpc/grpc-js in the bundle, found ${grpc.map((p) => p.dir).join(', ') || 'none'}`);
  const ssh = packages.find((p) => p.name === 'ssh2');
  if (ssh) throw new Error(`ssh2 is in the bundle (${ssh.dir}): the stand-in (sshLeftOut) no longer replaces it`);
  return packages
    .map(({ name, version, license }) => ({ name, version, license }))
    .sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version))
    .filter((p, i, all) => i === 0 || p.name !== all[i - 1].name || p.version !== all[i - 1].version);
}

function describe(m: Message): string {
  return m.location ? `${m.location.file}:${m.location.line}: ${m.text}` : m.text;
}

/** Bundles `entry` (default dist/src/cli.js; build first) into `outfile` for Node `nodeMajor`, as CommonJS or an iife. */
export async function bundle(outfile: string, nodeMajor: number, entry = path.join(ROOT, 'dist', 'src', 'cli.js'), format: 'cjs' | 'iife' = 'cjs'): Promise<Bundle> {
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    // iife for a snapshot's script, which Node runs with no module, exports or module wrapper.
    format,
    target: `node${nodeMajor}`,
    // Dead branches go (src/etcd/grpc-log.ts's lookup from etcd3's folder), and so does white space: the script
    // is resident in memory twice (the blob's pages and V8's copy), 3.8 -> 2.6 MB, an idle agent 3 MB less.
    // Names stay, for readable stacks (their positions are line:column in the one-file script either way).
    minifySyntax: true,
    minifyWhitespace: true,
    define: { RECONFIG_BUNDLE: 'true' },
    plugins: [protosInside(), sshLeftOut()],
    metafile: true,
    logLevel: 'silent',
    legalComments: 'eof',
  });
  const unexpected = result.warnings.filter((w) => !ACCEPTED_WARNINGS.some((a) => a.text.test(w.text) && a.file.test(w.location?.file ?? '')));
  if (unexpected.length > 0) throw new Error(`esbuild warned:\n${unexpected.map(describe).join('\n')}`);
  let text = readFileSync(outfile, 'utf8');
  // The executable runs the script as a function body, where a `#!` line is not JavaScript.
  if (text.startsWith('#!')) text = text.slice(text.indexOf('\n') + 1);
  // grpc-js reads protos of its own (orca.proto) only for the load reports of xDS balancing, which etcd3 never
  // asks for: etcd3's are the ones every connection needs.
  if (text.includes('proto/rpc.proto')) throw new Error(`${outfile} still reads etcd3's rpc.proto from disk`);
  writeFileSync(outfile, text);
  return { file: outfile, bytes: Buffer.byteLength(text), packages: packagesIn(result.metafile) };
}

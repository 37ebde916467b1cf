/**
 * grpc-js writes its own diagnostics straight to stderr (`E Connection to ... rejected by server because of
 * excess pings`), which breaks a stream of JSON log lines. Its logger is process-wide: this points it at ours.
 * The grpc-js instance is the one etcd3 loads, resolved from etcd3's own directory.
 */
import path from 'node:path';
import { format } from 'node:util';

type GrpcLogging = {
  setLogger(logger: Partial<Console>): void;
  setLogVerbosity(verbosity: number): void;
  logVerbosity: { DEBUG: number; INFO: number; ERROR: number; NONE: number };
};

/** Defined (as true) only inside the single executable's bundle, by its build (scripts/bin/bundle.ts). */
declare const RECONFIG_BUNDLE: true | undefined;

/**
 * The grpc-js that etcd3 uses. npm may give etcd3 a copy of its own, so it is looked up from etcd3's folder; the
 * bundle holds exactly one copy (its build checks) and has no folders to look in, so it names it directly.
 */
function etcdGrpc(): GrpcLogging {
  let grpc: unknown;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (typeof RECONFIG_BUNDLE !== 'undefined') grpc = require('@grpc/grpc-js');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  else grpc = require(require.resolve('@grpc/grpc-js', { paths: [path.dirname(require.resolve('etcd3'))] }));
  return grpc as GrpcLogging;
}

/** Routes grpc-js's messages (errors only, as grpc-js itself defaults to) to `warn`. */
export function routeGrpcLogs(warn: (message: string) => void): void {
  const grpc = etcdGrpc();
  const say = (...args: unknown[]): void => warn(`grpc: ${format(...args).replace(/^[EWID] /, '')}`);
  grpc.setLogger({ error: say, warn: say, info: say, debug: say, log: say });
  grpc.setLogVerbosity(grpc.logVerbosity.ERROR);
}

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

/** Routes grpc-js's messages (errors only, as grpc-js itself defaults to) to `warn`. */
export function routeGrpcLogs(warn: (message: string) => void): void {
  const grpcPath = require.resolve('@grpc/grpc-js', { paths: [path.dirname(require.resolve('etcd3'))] });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const grpc = require(grpcPath) as GrpcLogging;
  const say = (...args: unknown[]): void => warn(`grpc: ${format(...args).replace(/^[EWID] /, '')}`);
  grpc.setLogger({ error: say, warn: say, info: say, debug: say, log: say });
  grpc.setLogVerbosity(grpc.logVerbosity.ERROR);
}

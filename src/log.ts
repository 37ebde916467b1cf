/**
 * The pino root logger. Logs are JSON lines on stderr, so that stdout carries only what a person or a pipe
 * asked for (diffs from --notreally, the --onetime summary).
 */
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(opts: { debug?: boolean; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      name: 'reconfig',
      level: opts.debug ? 'debug' : 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    // Synchronous writes: a log line is never lost when the process exits right after it.
    opts.destination ?? pino.destination({ dest: 2, sync: true }),
  );
}

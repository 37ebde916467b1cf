/**
 * The pino root logger. Logs go to stderr, so that stdout carries only what a person or a pipe asked for
 * (diffs from --notreally, the --onetime summary). JSON lines by default; readable lines (pino-pretty) on a
 * terminal or with --log-format pretty.
 */
import pino from 'pino';
import type { ConfigProblem } from './errors';

export type Logger = pino.Logger;
export type LogFormat = 'json' | 'pretty';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LoggerOptions {
  /** Debug wins over `level` (--debug is --log-level debug). */
  debug?: boolean;
  /** Default: info. */
  level?: LogLevel;
  /** Default: pretty when stderr is a terminal, JSON otherwise. */
  format?: LogFormat;
  destination?: pino.DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const options: pino.LoggerOptions = {
    name: 'reconfig',
    level: opts.debug ? 'debug' : (opts.level ?? 'info'),
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (opts.destination) return pino(options, opts.destination);
  const format = opts.format ?? (process.stderr.isTTY ? 'pretty' : 'json');
  if (format === 'pretty') return pino(options, prettyStream());
  // Synchronous writes: a log line is never lost when the process exits right after it.
  return pino(options, pino.destination({ dest: 2, sync: true }));
}

function prettyStream(): pino.DestinationStream {
  // Loaded only for people at a terminal; JSON logging never pays for it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pretty = require('pino-pretty') as typeof import('pino-pretty');
  return pretty.build({
    destination: 2,
    sync: true,
    colorize: process.stderr.isTTY,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name',
    // Command output keeps its line breaks.
    singleLine: false,
  });
}

/** One error line per configuration problem, naming its file (or variable) and field. */
export function logProblems(problems: readonly ConfigProblem[], log: Logger): void {
  for (const p of problems) log.error({ file: p.file }, `${p.file}: ${p.message}`);
}

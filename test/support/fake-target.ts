/** A Target built in code, for tests of the agent's logic that need no conf.d on disk. */
import path from 'node:path';
import type { Target } from '../../src/target';
import { createLogger, type Logger } from '../../src/log';
import { valueCheck } from '../../src/render/values';
import type { LogLine } from './cli';
import { tempDir } from './util';

/** A target `id` on key `/<id>` (recursive), rendering its keys as `key=value` lines into a temp dir. */
export function fakeTarget(id: string, over: Partial<Target> = {}): Target {
  return {
    id,
    origin: `test:${id}`,
    source: `test:${id}.ejs`,
    render: (data) => Object.entries(data).map(([k, v]) => `${k}=${v}\n`).join(''),
    dest: path.join(tempDir(), `${id}.conf`),
    key: `/${id}`,
    keys: [{ key: `/${id}`, recursive: true, local: `/${id}` }],
    timeoutMs: 10_000,
    checkValue: valueCheck(false, []),
    ...over,
  };
}

/** A debug logger whose lines land in `lines`. */
export function memoryLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = createLogger({ debug: true, destination: { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) } });
  return { log, lines };
}

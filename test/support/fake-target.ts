/** A Target built in code, for tests of the agent's logic that need no conf.d on disk. */
import path from 'node:path';
import type { Render, Target } from '../../src/target';
import { createLogger, type Logger } from '../../src/log';
import { valueCheck } from '../../src/render/values';
import type { LogLine } from './cli';
import { tempDir } from './util';

/**
 * A target `id` on key `/<id>` (recursive), rendering its keys as `key=value` lines into one file in a temp dir;
 * `render` replaces that file's template.
 */
export function fakeTarget(id: string, over: Partial<Target> & { render?: Render } = {}): Target {
  const dest = path.join(tempDir(), `${id}.conf`);
  const { render, ...rest } = over;
  return {
    id,
    origin: `test:${id}`,
    files: [{ name: `${id}.conf`, source: `test:${id}.ejs`, render: render ?? ((data) => Object.entries(data).map(([k, v]) => `${k}=${v}\n`).join('')), dest }],
    dest,
    key: `/${id}`,
    keys: [{ key: `/${id}`, recursive: true, local: `/${id}` }],
    timeoutMs: 10_000,
    checkValue: valueCheck(false, []),
    ...rest,
  };
}

/** A debug logger whose lines land in `lines`. */
export function memoryLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = createLogger({ debug: true, destination: { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) } });
  return { log, lines };
}

/** reloadsignal: signal the process whose id a pidfile holds. A missing or stale pidfile is an error, never a crash. */
import { readFileSync } from 'node:fs';
import { ApplyError, errorMessage } from '../errors';

/** Sends `signal` to the pid in `pidfile`; returns the pid. */
export function signalPidfile(pidfile: string, signal: NodeJS.Signals): number {
  let text: string;
  try {
    text = readFileSync(pidfile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ApplyError(`reloadsignal: cannot read pidfile ${pidfile}: ${code === 'ENOENT' ? 'no such file' : errorMessage(err)}`, { cause: err });
  }
  const first = text.trim().split(/\s+/)[0] ?? '';
  const pid = /^[0-9]+$/.test(first) ? Number(first) : NaN;
  if (!Number.isSafeInteger(pid) || pid <= 1) {
    throw new ApplyError(`reloadsignal: pidfile ${pidfile} holds no process id: ${JSON.stringify(text.slice(0, 40))}`);
  }
  try {
    process.kill(pid, signal);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') throw new ApplyError(`reloadsignal: pidfile ${pidfile} is stale: no process ${pid}`, { cause: err });
    if (code === 'EPERM') throw new ApplyError(`reloadsignal: not allowed to send ${signal} to process ${pid} (pidfile ${pidfile})`, { cause: err });
    throw new ApplyError(`reloadsignal: ${signal} to process ${pid} (pidfile ${pidfile}) failed: ${errorMessage(err)}`, { cause: err });
  }
  return pid;
}

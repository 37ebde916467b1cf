/**
 * systemd readiness (Type=notify): once the first full apply is done, tell the service manager, through
 * systemd's own systemd-notify (Node cannot send on a Unix datagram socket). It waits until systemd has
 * processed the message, and --pid names reconfig as the main process, so NotifyAccess=all is enough.
 * Without NOTIFY_SOCKET (not under systemd, or Type=simple) it does nothing.
 */
import { execFile } from 'node:child_process';
import type { Logger } from '../log';

export function notifyReady(status: string, log: Logger, env: NodeJS.ProcessEnv = process.env): void {
  if (!env.NOTIFY_SOCKET) return;
  execFile('systemd-notify', ['--ready', `--pid=${process.pid}`, `--status=${status}`], { timeout: 10_000 }, (err, _out, stderr) => {
    if (err) log.warn({ output: stderr }, `could not tell systemd we are ready: ${err.message}`);
    else log.debug('told systemd we are ready');
  });
}

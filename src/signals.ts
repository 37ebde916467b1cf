/**
 * SIGHUP for the whole life of the process. Its default action is to terminate, and a reload can arrive while
 * reconfig is still starting (systemd's ExecReload, say): one listener is installed first thing, and whoever
 * runs the agent later takes the signal over with handle(). A SIGHUP that came before is delivered then, once.
 */
export class HupRelay {
  private handler: (() => void) | null = null;
  private missed = 0;

  constructor() {
    process.on('SIGHUP', () => {
      if (this.handler) this.handler();
      else this.missed += 1;
    });
  }

  /** From now on SIGHUP calls `fn`; one that arrived earlier is passed on at once. */
  handle(fn: () => void): void {
    this.handler = fn;
    if (this.missed > 0) {
      this.missed = 0;
      fn();
    }
  }
}

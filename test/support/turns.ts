/** For tests with mock timers: wait on real I/O and promises by turns of the event loop, not by setTimeout. */
export async function until(cond: () => boolean, what: string, turns = 20_000, tick?: () => void): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (cond()) return;
    tick?.();
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`not reached after ${turns} turns: ${what}`);
}

/** Lets pending promise callbacks and immediates run. */
export async function settle(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

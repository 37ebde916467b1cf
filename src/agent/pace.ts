/**
 * When a runner applies. Without a `wait`, a lone change applies at once and a burst is paced (5 ms between
 * applies, doubling up to 50 ms, until 100 ms pass without an apply). With a `wait` {min, max}, consul-template's
 * and docker-gen's rule: apply once changes have been quiet for min, but no later than max after the first.
 * With a `splay`, consul-template's and Nomad's: then a random delay up to splay, so that a fleet's reloads
 * spread out; changes meanwhile join the apply. The first snapshot (a change that does not debounce) never waits.
 */

/** The first pause between applies in a burst, and the longest. */
const BURST_GAP_MIN_MS = 5;
const BURST_GAP_MAX_MS = 50;
/** Quiet for this long after an apply, the burst is over and the next change applies at once. */
const BURST_QUIET_MS = 100;

export class Pacer {
  private burstGap = 0;
  /** Changes since the last apply began. */
  private pending = 0;
  private lastApplyEnd = 0;
  private firstChange: number | undefined;
  private lastChange = 0;

  private readonly splayMs: number;
  private readonly now: () => number;
  private readonly random: () => number;

  /** `now` is the clock in ms and `random` the splay's draw (tests pass fakes; timers come from setTimeout). */
  constructor(
    private readonly wait: { minMs: number; maxMs: number } | undefined,
    opts: { splayMs?: number; now?: () => number; random?: () => number } = {},
  ) {
    this.splayMs = opts.splayMs ?? 0;
    this.now = opts.now ?? (() => performance.now());
    this.random = opts.random ?? Math.random;
  }

  /** `count` keys changed. `debounce` false for changes that should not wait (the first snapshot). */
  changed(count: number, debounce = true): void {
    this.pending += count;
    if (!debounce) return;
    const now = this.now();
    this.firstChange ??= now;
    this.lastChange = now;
  }

  /** Resolves when the next apply may start, or at once when `signal` aborts (the runner is stopping). */
  async beforeApply(signal?: AbortSignal): Promise<void> {
    // A change that debounces (not the first snapshot) has set firstChange.
    const splay = this.splayMs > 0 && this.firstChange !== undefined;
    if (this.wait) await this.debounce(this.wait, signal);
    else await this.burstPause(signal);
    const delay = splay ? this.random() * this.splayMs : 0;
    if (delay > 0) await sleep(delay, signal);
    this.pending = 0;
    this.firstChange = undefined;
  }

  applied(): void {
    this.lastApplyEnd = this.now();
  }

  private async debounce(w: { minMs: number; maxMs: number }, signal?: AbortSignal): Promise<void> {
    while (this.firstChange !== undefined) {
      const due = Math.min(this.lastChange + w.minMs, this.firstChange + w.maxMs);
      const left = due - this.now();
      if (left <= 0 || !(await sleep(left, signal))) return;
    }
  }

  /**
   * In a burst (several changes piled up since an apply that ended moments ago) wait a little before the next
   * apply, a little longer each time, so that a storm of puts costs a few dozen applies rather than one per
   * etcd commit. A lone change outside a burst, however soon after the last one, applies at once.
   */
  private async burstPause(signal?: AbortSignal): Promise<void> {
    const since = this.now() - this.lastApplyEnd;
    if (since > BURST_QUIET_MS) this.burstGap = 0;
    if (this.burstGap === 0 && (this.pending < 2 || since > BURST_QUIET_MS)) return;
    this.burstGap = Math.min(BURST_GAP_MAX_MS, this.burstGap ? this.burstGap * 2 : BURST_GAP_MIN_MS);
    if (since < this.burstGap) await sleep(this.burstGap - since, signal);
  }
}

/** Sleeps `ms`; resolves false at once if `signal` aborts (or has). */
function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const wake = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', wake);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', wake, { once: true });
  });
}

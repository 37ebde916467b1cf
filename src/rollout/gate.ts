/**
 * A later wave's gate (wave N > 0, a target with `rollout`): a Source that watches only the target's rollout
 * range (`<prefix>/rollout/<target>`: the coordinator's record, an operator's promotion and halt) and, when the
 * wave before has proven a revision R (or an operator promoted one), reads the target's keys *at R* and gives
 * them to the runner, which ignores the Feed. Meanwhile the runner keeps its file and says why it waits. Events
 * are triggers: each one reads the range again, so a burst or a missed event costs one read, never a wrong state.
 */
import { errorMessage } from '../errors';
import type { KeySpec, Store } from '../etcd/store';
import type { Logger } from '../log';
import type { Target } from '../target';
import type { InputSink, Source } from '../agent/ports';
import { gate } from './decide';
import { CompactedError } from './etcd';
import { parseJson, rolloutKey, rolloutKeyKind, type Promotion, type RolloutRecord } from './record';

/** What a gate needs from the agent: its wave, the report prefix, the store, and reads at a revision. */
export interface RolloutContext {
  wave: number;
  /** The --report prefix, without a trailing slash. */
  prefix: string;
  store: Store;
  readAt: (specs: readonly KeySpec[], revision: number) => Promise<{ kvs: Array<Array<{ key: string; value: string }>> }>;
}

const BACKOFF_MIN_MS = 200;
/**
 * The range is read again this often (jittered) even when no event came: a safety net. With 100 agents started
 * at once on 2 cores, 5 of 25 gates once never heard of a record written after they watched. The cause is not
 * found: the watch survives a cut link and the store rebuilding its client under it (test/rollout/gate.test.ts).
 * A read fixes any such miss, and says so (the rollout bench counts those).
 */
const RECHECK_MS = 10_000;
const BACKOFF_MAX_MS = 5000;
/** How long after a re-read found a change an event for it may still come before it counts as missed. */
const MISS_GRACE_MS = 3000;

export class RolloutGate implements Source {
  /** The revision whose data the runner was given last. */
  private loaded: number | undefined;
  private compacted: number | undefined;
  private lastMessage: string | undefined;
  /** The range as the last read saw it, and whether the watch has told of a change since. */
  private lastRead: string | undefined;
  private told = false;
  /** Batches of events the watch has delivered, ever: a re-read's find is a miss only if none comes after it. */
  private heard = 0;

  constructor(
    private readonly target: Target,
    private readonly rc: RolloutContext,
    private readonly log: Logger,
    /** The safety re-read's period (ms); 0: none (a test of the watch alone). */
    private readonly recheckMs = RECHECK_MS,
  ) {}

  /** A gate has nothing to give once: only the watching agent has waves (--wave needs --report). */
  prime(): Promise<void> {
    return Promise.resolve();
  }

  follow(sink: InputSink, signal: AbortSignal): void {
    this.run(sink, signal).catch((err: unknown) => this.log.error(`rollout gate stopped: ${errorMessage(err)}`));
  }

  private async run(sink: InputSink, signal: AbortSignal): Promise<void> {
    const spec: KeySpec = { key: rolloutKey(this.rc.prefix, this.target.id), recursive: true };
    this.say(sink, gate({ wave: this.rc.wave, halted: false }));
    let backoff = BACKOFF_MIN_MS;
    while (!signal.aborted) {
      let broken: (err: Error | null) => void = () => undefined;
      const ended = new Promise<Error | null>((resolve) => (broken = resolve));
      const stop = (): void => broken(null);
      signal.addEventListener('abort', stop, { once: true });
      let handle: { cancel(): Promise<void> } | null = null;
      try {
        const revision = await this.check(spec, sink, signal);
        // Each event is a trigger: read the range again (one at a time, so that decisions follow each other).
        let reading = Promise.resolve();
        const again = (why: 'event' | 'recheck'): void => {
          reading = reading
            .then(() => this.check(spec, sink, signal, why === 'recheck' ? revision + 1 : undefined).then(() => undefined))
            .catch((err: unknown) => broken(err instanceof Error ? err : new Error(errorMessage(err))));
        };
        handle = await this.rc.store.watch([spec], revision + 1, {
          onEvents: (events) => {
            if (events.length === 0) return;
            this.told = true;
            this.heard += 1;
            again('event');
          },
          onBroken: (err) => broken(err),
        });
        backoff = BACKOFF_MIN_MS;
        const recheck = this.recheckMs > 0 ? setInterval(() => again('recheck'), this.recheckMs * (0.9 + 0.2 * Math.random())) : undefined;
        const reason = await ended;
        clearInterval(recheck);
        if (reason) this.log.warn({ err: reason.message }, 'rollout watch broken; reading the rollout again');
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, `cannot read the rollout of ${this.target.id}; retrying`);
      } finally {
        signal.removeEventListener('abort', stop);
        await handle?.cancel().catch(() => undefined);
      }
      if (signal.aborted) return;
      await new Promise((r) => setTimeout(r, backoff / 2 + Math.random() * (backoff / 2)));
      backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
    }
  }

  /**
   * Reads the rollout range, decides, and gives the runner the proven data if it may take it. Returns the read's
   * revision. `recheckOf`: a safety re-read of the watch that started at that revision, which says so when it
   * finds a change the watch never told (a miss the re-read mends).
   */
  private async check(spec: KeySpec, sink: InputSink, signal: AbortSignal, recheckOf?: number): Promise<number> {
    const told = this.told;
    this.told = false;
    const snap = await this.rc.store.snapshot([spec]);
    const seen = snap.kvs[0].map((kv) => `${kv.key}\0${kv.value}`).join('\0');
    if (recheckOf !== undefined && !told && this.lastRead !== undefined && seen !== this.lastRead) {
      // The event may be on its way (the change came while this read ran): a miss only if none comes soon.
      const heard = this.heard;
      setTimeout(() => {
        if (this.heard !== heard || signal.aborted) return;
        this.log.warn({ watchFrom: recheckOf, readAt: snap.revision }, `the rollout of ${this.target.id} changed and its watch did not tell; the safety re-read found it`);
      }, MISS_GRACE_MS).unref();
    }
    this.lastRead = seen;
    let record: RolloutRecord | undefined;
    let promotion: Promotion | undefined;
    let halted = false;
    for (const kv of snap.kvs[0]) {
      const k = rolloutKeyKind(this.rc.prefix, kv.key);
      if (!k || k.target !== this.target.id) continue;
      if (k.kind === 'halt') halted = true;
      else if (k.kind === 'record') record = parseJson<RolloutRecord>(kv.value);
      else promotion = parseJson<Promotion>(kv.value);
    }
    const decision = gate({ wave: this.rc.wave, record, promotion, halted, loaded: this.loaded, compacted: this.compacted });
    this.log.debug({ revision: snap.revision, decision }, 'rollout read');
    if (decision.kind !== 'apply' || signal.aborted) {
      this.say(sink, decision);
      return snap.revision;
    }
    try {
      const data = await this.rc.readAt(this.target.keys, decision.revision);
      // A check left over from a broken watch may end after a newer one: never hand the runner older data.
      if (signal.aborted || (this.loaded !== undefined && decision.revision <= this.loaded)) return snap.revision;
      this.loaded = decision.revision;
      this.compacted = undefined;
      this.log.info({ revision: decision.revision, wave: this.rc.wave }, `wave ${this.rc.wave - 1} proved revision ${decision.revision}; applying its data`);
      this.say(sink, { kind: 'current' });
      sink.loadProven(data.kvs.flat(), decision.revision);
    } catch (err) {
      if (!(err instanceof CompactedError)) throw err;
      this.compacted = decision.revision;
      this.say(sink, gate({ wave: this.rc.wave, record, promotion, halted, loaded: this.loaded, compacted: this.compacted }));
    }
    return snap.revision;
  }

  /** Tells the runner (and through it the report) why it waits, once per change of reason. */
  private say(sink: InputSink, d: ReturnType<typeof gate>): void {
    const message = d.kind === 'wait' ? d.message : undefined;
    if (message === this.lastMessage) return;
    this.lastMessage = message;
    if (message) this.log.info({ wave: this.rc.wave }, message);
    sink.waiting(message);
  }
}

/**
 * What the agent reports as it works, for metrics and health (ops/). The agent calls these hooks; without
 * --listen they do nothing, and prom-client is never loaded.
 */
import type { TargetError } from '../errors';

/** The watch is up again (or for the first time). */
export interface Sync {
  /** What the agent holds now: every change up to this revision. */
  revision: number;
  /** Why it (re)started: the agent's start, an outage, or a resync (--resync, SIGHUP, a watch etcd cancelled). */
  after: 'start' | 'outage' | 'resync';
  /** A fresh snapshot that read `keys` keys, or a watch resumed where the last one stopped, reading none. */
  how: 'snapshot' | 'resume';
  keys: number;
}

export interface Observer {
  /** New data for the target has arrived and is not applied yet. */
  pending(id: string): void;
  /**
   * An apply succeeded: the file holds what `revision` says (changed: it was replaced). `content` is the file's
   * text, for whoever needs its digest (the fleet report); keep it only as long as that needs.
   */
  applied(id: string, changed: boolean, revision: number, content: string): void;
  /** An apply failed at `stage` (or was held by a guard, stage "hold"). */
  failed(id: string, stage: TargetError['stage'], message: string): void;
  rendered(id: string, seconds: number): void;
  synced(sync: Sync): void;
  disconnected(reason: string): void;
  events(count: number, revision: number): void;
  /** The set of targets is now exactly these (after SIGHUP). */
  targets(ids: readonly string[]): void;
}

/** Several observers as one (metrics and the fleet report). */
export function allOf(observers: readonly Observer[]): Observer {
  const each =
    <K extends keyof Observer>(k: K) =>
    (...args: Parameters<Observer[K]>): void => {
      // Every Observer method returns void and takes these arguments; TypeScript cannot spread a union of tuples.
      for (const o of observers) (o[k] as (...a: Parameters<Observer[K]>) => void)(...args);
    };
  return {
    pending: each('pending'),
    applied: each('applied'),
    failed: each('failed'),
    rendered: each('rendered'),
    synced: each('synced'),
    disconnected: each('disconnected'),
    events: each('events'),
    targets: each('targets'),
  };
}

export const noObserver: Observer = {
  pending: () => undefined,
  applied: () => undefined,
  failed: () => undefined,
  rendered: () => undefined,
  synced: () => undefined,
  disconnected: () => undefined,
  events: () => undefined,
  targets: () => undefined,
};

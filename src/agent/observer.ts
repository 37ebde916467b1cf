/** Observers put together: several as one, and none at all. */
import type { Observer } from './ports';

export type { Observer, Sync } from './ports';

/** Several observers as one (metrics, the fleet report, sidecar mode's batcher, the agent's readiness). */
export function allOf(observers: readonly Observer[]): Observer {
  if (observers.length === 1) return observers[0];
  const each =
    <K extends Exclude<keyof Observer, 'waiting'>>(k: K) =>
    (...args: Parameters<Observer[K]>): void => {
      // Every Observer method returns void and takes these arguments; TypeScript cannot spread a union of tuples.
      for (const o of observers) (o[k] as (...a: Parameters<Observer[K]>) => void)(...args);
    };
  return {
    pending: each('pending'),
    applied: each('applied'),
    failed: each('failed'),
    rolledBack: each('rolledBack'),
    settled: each('settled'),
    rendered: each('rendered'),
    synced: each('synced'),
    disconnected: each('disconnected'),
    events: each('events'),
    targets: each('targets'),
    waiting: (id, message) => {
      for (const o of observers) o.waiting?.(id, message);
    },
  };
}

export const noObserver: Observer = {
  pending: () => undefined,
  applied: () => undefined,
  failed: () => undefined,
  rolledBack: () => undefined,
  settled: () => undefined,
  rendered: () => undefined,
  synced: () => undefined,
  disconnected: () => undefined,
  events: () => undefined,
  targets: () => undefined,
};

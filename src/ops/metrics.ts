/**
 * Metrics (Prometheus, through prom-client on a registry of our own) and the health verdict, both fed by the
 * agent's Observer hooks. Metric names are listed in docs/operating.md.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Observer, Sync } from '../agent/ports';

interface TargetHealth {
  inSync: boolean;
  held: boolean;
  error?: string;
  /** Its verify failed and the previous files are back: held there until the data renders differently. */
  rolledBack?: { revision: number; output: string };
  /** Why its files are not what its data renders: held at a version by `reconfig rollback`. */
  note?: string;
  /** A rollout's later wave keeps its file until the wave before proves a newer revision: why (src/rollout/). */
  waiting?: string;
}

export interface HealthReport {
  healthy: boolean;
  reasons: string[];
  etcd: { connected: boolean; revision: number };
  targets: Record<string, TargetHealth>;
}

export class Metrics implements Observer {
  readonly registry = new Registry();
  private connectedNow = false;
  private revision = 0;
  private readonly health = new Map<string, TargetHealth>();

  private readonly applies = this.counter('reconfig_target_applies_total', 'Applies that replaced the target file.', ['target']);
  private readonly failures = this.counter('reconfig_target_failures_total', 'Failed applies, by stage (read, render, stage, check, swap, reload; hold for minkeys or a values rule).', ['target', 'stage']);
  private readonly lastSuccess = this.gauge('reconfig_target_last_success_timestamp_seconds', 'Unix time of the last successful apply (changed or not).', ['target']);
  private readonly renderSeconds = new Histogram({
    name: 'reconfig_target_render_duration_seconds',
    help: 'Time to render the template.',
    labelNames: ['target'],
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  });
  private readonly inSync = this.gauge(
    'reconfig_target_in_sync',
    '1 when the file holds what the last revision read says, 0 while an apply is pending or has failed.',
    ['target'],
  );
  private readonly rollbacks = this.counter('reconfig_rollbacks_total', "Applies whose verify failed and whose previous files were put back (and passed it).", ['target']);
  private readonly held = this.gauge('reconfig_target_held', '1 while a guard (minkeys, a values rule) holds the target.', ['target']);
  private readonly waitingGauge = this.gauge('reconfig_target_waiting', "1 while a rollout's later wave keeps the target's file until the wave before proves a newer revision.", ['target']);
  private readonly etcdConnected = this.gauge('reconfig_etcd_connected', '1 while watching etcd.');
  /** Made by the first fleetReport(): only an agent with --report has a report to be current. */
  private reportInSync: Gauge | undefined;
  private readonly watchRevision = this.gauge('reconfig_watch_revision', 'The newest etcd revision seen.');
  private readonly reconnects = this.counter('reconfig_etcd_reconnects_total', 'Watches re-established after an outage.');
  private readonly resyncs = this.counter('reconfig_resyncs_total', 'Fresh snapshots taken after the first (a compacted revision, periodic resync, SIGHUP, a changed cluster).');
  private readonly resumes = this.counter('reconfig_watch_resumes_total', 'Watches resumed from the last revision held, reading nothing again.');
  private readonly keysRead = this.counter('reconfig_snapshot_keys_total', 'Keys read by snapshots, the first included.');
  private readonly eventCount = this.counter('reconfig_watch_events_total', 'Watch events received for the targets.');

  constructor(targetIds: readonly string[]) {
    collectDefaultMetrics({ register: this.registry, prefix: 'reconfig_' });
    this.etcdConnected.set(0);
    this.targets(targetIds);
  }

  private counter<L extends string>(name: string, help: string, labelNames: L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge<L extends string>(name: string, help: string, labelNames: L[] = []): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  targets(ids: readonly string[]): void {
    for (const id of [...this.health.keys()]) {
      if (ids.includes(id)) continue;
      this.health.delete(id);
      for (const m of [this.applies, this.lastSuccess, this.renderSeconds, this.inSync, this.held, this.rollbacks, this.waitingGauge]) m.remove({ target: id });
    }
    for (const id of ids) {
      if (this.health.has(id)) continue;
      this.health.set(id, { inSync: false, held: false });
      this.applies.inc({ target: id }, 0);
      this.rollbacks.inc({ target: id }, 0);
      this.inSync.set({ target: id }, 0);
      this.held.set({ target: id }, 0);
      this.waitingGauge.set({ target: id }, 0);
    }
  }

  /** A rollout gate holds the target at its file (healthy, unless an apply failed), or lets it go on (undefined). */
  waiting(id: string, message: string | undefined): void {
    const h = this.health.get(id);
    if (!h) return;
    h.waiting = message;
    this.waitingGauge.set({ target: id }, message === undefined ? 0 : 1);
  }

  /** With --report: whether the agent's report in etcd is current (written, its lease alive). */
  fleetReport(current: boolean): void {
    this.reportInSync ??= this.gauge('reconfig_fleet_report_in_sync', "1 while the agent's fleet report (--report) in etcd is current: 0 after a refused or failed write, or a lost lease, until the next write.");
    this.reportInSync.set(current ? 1 : 0);
  }

  pending(id: string): void {
    this.set(id, { inSync: false });
  }

  applied(id: string, changed: boolean, _revision?: number, _content?: string, note?: string): void {
    if (changed) this.applies.inc({ target: id });
    this.lastSuccess.set({ target: id }, Date.now() / 1000);
    this.set(id, { inSync: true, held: false, error: undefined, rolledBack: undefined, note });
  }

  rolledBack(id: string, revision: number, message: string, output: string): void {
    this.rollbacks.inc({ target: id });
    this.failures.inc({ target: id, stage: 'verify' });
    // /healthz is unauthenticated and read often: a few hundred bytes of the verify's output, not all of it.
    const cut = output.length > 500 ? `${output.slice(0, 500)}... (${output.length - 500} more bytes in the log)` : output;
    this.set(id, { inSync: false, held: false, error: `rolled back: ${message}`, rolledBack: { revision, output: cut } });
  }

  failed(id: string, stage: string, message: string): void {
    this.failures.inc({ target: id, stage });
    this.set(id, { inSync: false, held: stage === 'hold', error: `${stage}: ${message}`, rolledBack: undefined });
  }

  settled(): void {}

  rendered(id: string, seconds: number): void {
    this.renderSeconds.observe({ target: id }, seconds);
  }

  synced({ revision, after, how, keys }: Sync): void {
    this.connectedNow = true;
    this.etcdConnected.set(1);
    this.seen(revision);
    if (after === 'outage') this.reconnects.inc();
    if (how === 'resume') this.resumes.inc();
    else if (after !== 'start') this.resyncs.inc();
    this.keysRead.inc(keys);
  }

  disconnected(): void {
    this.connectedNow = false;
    this.etcdConnected.set(0);
  }

  events(count: number, revision: number): void {
    this.eventCount.inc(count);
    this.seen(revision);
  }

  private seen(revision: number): void {
    if (revision > this.revision) {
      this.revision = revision;
      this.watchRevision.set(revision);
    }
  }

  private set(id: string, change: Partial<TargetHealth>): void {
    const h = this.health.get(id);
    if (!h) return;
    Object.assign(h, change);
    if (change.inSync !== undefined) this.inSync.set({ target: id }, change.inSync ? 1 : 0);
    if (change.held !== undefined) this.held.set({ target: id }, change.held ? 1 : 0);
  }

  /** Healthy while connected and every target is in sync or held on purpose. */
  verdict(): HealthReport {
    const reasons: string[] = [];
    if (!this.connectedNow) reasons.push('not connected to etcd');
    const targets: Record<string, TargetHealth> = {};
    for (const [id, h] of this.health) {
      targets[id] = { ...h };
      if (h.rolledBack) reasons.push(`target ${id} rolled back from revision ${h.rolledBack.revision} (${h.error ?? ''})`);
      else if (!h.inSync && !h.held && !(h.waiting !== undefined && h.error === undefined)) reasons.push(`target ${id} is not in sync${h.error ? ` (${h.error})` : ''}`);
    }
    return { healthy: reasons.length === 0, reasons, etcd: { connected: this.connectedNow, revision: this.revision }, targets };
  }
}

/**
 * The rollout keys under a fleet report prefix, and what they hold. Beside the hosts' reports (`<prefix>/<name>`):
 *
 *   <prefix>/rollout/<target>           the elected coordinator's record: per wave, the newest revision it proved
 *   <prefix>/rollout/<target>/promote   an operator's `reconfig fleet promote`: every wave may apply this revision
 *   <prefix>/rollout/<target>/halt      an operator's `reconfig fleet halt`: waves >= 1 apply nothing
 *   <prefix>/rollout-election/...       the etcd election that picks the coordinator
 *
 * A later wave's agent watches only its targets' `<prefix>/rollout/<target>` ranges, never the reports. The
 * target id is URI-encoded in the key, so that an id holding "/" cannot reach another target's keys.
 */

/** The folder of the rollout records; no host may be named so (flags.ts refuses it). */
export const ROLLOUT_DIR = 'rollout';
/** The folder of the coordinator's election (etcd3's election keys: `<prefix>/rollout-election/<name>/<lease>`). */
export const ELECTION_DIR = 'rollout-election';

export function rolloutKey(prefix: string, target: string): string {
  return `${prefix}/${ROLLOUT_DIR}/${encodeURIComponent(target)}`;
}

export const promoteKey = (prefix: string, target: string): string => `${rolloutKey(prefix, target)}/promote`;
export const haltKey = (prefix: string, target: string): string => `${rolloutKey(prefix, target)}/halt`;

/** True for a key under the prefix that is a host's report (not a rollout key, not the election's). */
export function isReportKey(prefix: string, key: string): boolean {
  const rest = key.slice(prefix.length + 1);
  return !(rest.startsWith(`${ROLLOUT_DIR}/`) || rest.startsWith(`${ELECTION_DIR}/`) || rest === ROLLOUT_DIR || rest === ELECTION_DIR);
}

/** Which key of a target's rollout range `key` is (the record, a promotion or a halt), and the target's id. */
export function rolloutKeyKind(prefix: string, key: string): { target: string; kind: 'record' | 'promote' | 'halt' } | undefined {
  const head = `${prefix}/${ROLLOUT_DIR}/`;
  if (!key.startsWith(head)) return undefined;
  const parts = key.slice(head.length).split('/');
  const target = decodeURIComponent(parts[0]);
  if (parts.length === 1) return { target, kind: 'record' };
  if (parts.length === 2 && (parts[1] === 'promote' || parts[1] === 'halt')) return { target, kind: parts[1] };
  return undefined;
}

/** What the coordinator knows of one wave for one target. */
export interface WaveRecord {
  /** Hosts of the wave that have the target. */
  hosts: number;
  /** The revision every one of them has reached (the lowest they report): what the wave is working towards proving. */
  reached: number;
  /** The newest revision the wave proved (every host ok at it or later, at least minhosts, for `bake`), and since when. */
  proven?: { revision: number; since: string };
}

/** A failure in one wave that halts its revision for every later wave. */
export interface HaltRecord {
  revision: number;
  /**
   * A rollback by hand: the data the host was rolled back from came at this revision, and every revision from it
   * up to `revision` (the report that told it) is halted, proven before or not.
   */
  from?: number;
  wave: number;
  host: string;
  /** "rolled back: ...", "check failed: ...". */
  message: string;
  since: string;
}

/** The value of `<prefix>/rollout/<target>`, written by the elected coordinator. */
export interface RolloutRecord {
  target: string;
  bakeMs: number;
  minhosts: number;
  /** By wave number. */
  waves: Record<string, WaveRecord>;
  halted?: HaltRecord;
}

/** The value of `<prefix>/rollout/<target>/promote`. */
export interface Promotion {
  revision: number;
  at: string;
}

/** The value of `<prefix>/rollout/<target>/halt`. */
export interface Halt {
  since: string;
}

/** Parses one of the values above, or undefined for a value that is not JSON (then it counts as absent). */
export function parseJson<T>(text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

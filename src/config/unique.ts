/** Keys and targets are unique across the configuration; a clash names both places. */
import type { ConfigProblem } from '../errors';

/**
 * What makes a target unique, known as soon as its definition passes the schema. `etcdKey` is its own key (`key`,
 * or the first of `keys`); its other keys may be shared with other targets.
 */
export interface Identity {
  id: string;
  origin: string;
  etcdKey: string | undefined;
  /** Every file it writes. */
  dests: readonly string[];
}

/**
 * No two targets may share an id, a key or a target file; each clash names both files. Checked for every
 * definition that passed the schema, even one whose template failed, so that one run reports every problem.
 */
export function uniquenessProblems(targets: Identity[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const fields: Array<[string, (t: Identity) => readonly string[]]> = [
    ['id', (t) => [t.id]],
    ['key', (t) => (t.etcdKey === undefined ? [] : [t.etcdKey])],
    ['target', (t) => t.dests],
  ];
  for (const [field, get] of fields) {
    const seen = new Map<string, Identity>();
    for (const t of targets) {
      for (const v of get(t)) {
        const first = seen.get(v);
        if (first) {
          const where = first === t ? 'another file of the same target' : first.origin;
          problems.push({ file: t.origin, message: `/${field}: ${JSON.stringify(v)} is already used by ${where}` });
        } else {
          seen.set(v, t);
        }
      }
    }
  }
  return problems;
}

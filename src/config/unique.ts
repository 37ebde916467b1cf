/** Keys and targets are unique across the configuration; a clash names both places. */
import type { ConfigProblem } from '../errors';
import type { Target } from './target';

/** No two targets may share an id, a key or a target file; each clash names both files. */
export function uniquenessProblems(targets: Target[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const fields: Array<[string, (t: Target) => string | undefined]> = [
    ['id', (t) => t.id],
    ['key', (t) => t.etcdKey],
    ['target', (t) => t.dest],
  ];
  for (const [field, get] of fields) {
    const seen = new Map<string, Target>();
    for (const t of targets) {
      const v = get(t);
      if (v === undefined) continue;
      const first = seen.get(v);
      if (first) {
        problems.push({ file: t.origin, message: `/${field}: ${JSON.stringify(v)} is already used by ${first.origin}` });
      } else {
        seen.set(v, t);
      }
    }
  }
  return problems;
}

/** A unified diff between the current file and the rendered one, for --notreally. */
import { createTwoFilesPatch } from 'diff';

export function unifiedDiff(dest: string, current: string | null, rendered: string): string {
  return createTwoFilesPatch(
    current === null ? '/dev/null' : dest,
    dest,
    current ?? '',
    rendered,
    current === null ? '(absent)' : 'current',
    'rendered',
  );
}

/** A unified diff between the current file and the rendered one, for --notreally. */

export async function unifiedDiff(dest: string, current: string | null, rendered: string): Promise<string> {
  // Loaded on first use: only --notreally needs it.
  const { createTwoFilesPatch } = await import('diff');
  return createTwoFilesPatch(
    current === null ? '/dev/null' : dest,
    dest,
    current ?? '',
    rendered,
    current === null ? '(absent)' : 'current',
    'rendered',
  );
}

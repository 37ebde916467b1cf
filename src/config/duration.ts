/** Parses durations such as "500ms", "2s", "1.5m" or "1h" into milliseconds. */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/.exec(text);
  if (!m) throw new Error(`not a duration: ${JSON.stringify(text)} (use e.g. "500ms", "2s", "1m")`);
  return Math.round(Number(m[1]) * UNITS[m[2]]);
}

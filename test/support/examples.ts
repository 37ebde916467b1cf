/** The repository's example conf.d/ and templates/ in a temporary cfgdir, and backends seeded for them. */
import type { Etcd3 } from 'etcd3';
import { chmodSync, cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './util';

export const REPO = path.resolve(__dirname, '..', '..', '..');

/**
 * A cfgdir holding the repository's conf.d/ and templates/, traversable by varnishd -C's own user. The pgbouncer
 * example needs a Patroni cluster and a running pgbouncer (test/e2e/patroni.test.ts), so it is left out here;
 * `edit` may change any example's target file before the cfgdir is used.
 */
export function examples(edit: Record<string, (target: Record<string, unknown>) => void> = {}): string {
  const cfg = tempDir();
  // varnishd -C drops root to its own user, which must be able to reach the staged file.
  chmodSync(cfg, 0o755);
  cpSync(path.join(REPO, 'conf.d'), path.join(cfg, 'conf.d'), { recursive: true });
  cpSync(path.join(REPO, 'templates'), path.join(cfg, 'templates'), { recursive: true });
  rmSync(path.join(cfg, 'conf.d', 'pgbouncer.json'));
  for (const [id, fn] of Object.entries(edit)) {
    const file = path.join(cfg, 'conf.d', `${id}.json`);
    const t = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    fn(t);
    writeFileSync(file, JSON.stringify(t, null, 2));
  }
  return cfg;
}

/** One backend for each example (haproxy, varnish, nginx) under prefix `p`. */
export async function seedExamples(client: Etcd3, p: string): Promise<void> {
  await client.put(`${p}/services/web/backends/web1`).value('10.0.0.1:80');
  await client.put(`${p}/services/cache/backends/c1`).value('{"host": "10.0.1.1", "port": 6081}');
  await client.put(`${p}/services/api/backends/api1`).value('10.0.2.1:9000');
}

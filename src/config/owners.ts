/** owner and group names to ids, through NSS (`getent`), so LDAP and sssd names work too. */
import { execFileSync } from 'node:child_process';
import type { ConfigProblem } from '../errors';

/** One getent process per name and load, however many targets share the owner (cleared by each load). */
const ids = new Map<string, number | undefined>();

function getent(db: 'passwd' | 'group', name: string): number | undefined {
  const k = `${db}:${name}`;
  if (!ids.has(k)) {
    let id: number | undefined;
    try {
      const line = execFileSync('getent', [db, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      id = Number(line.split(':')[2]);
      if (!Number.isInteger(id)) id = undefined;
    } catch {
      // getent exits 2 when the name is unknown.
    }
    ids.set(k, id);
  }
  return ids.get(k);
}

/** Resolves a user or group name through NSS (`getent`), so LDAP and sssd names work too. */
export function lookupId(
  db: 'passwd' | 'group',
  value: string | number,
  file: string,
  field: string,
  problems: ConfigProblem[],
): number | undefined {
  if (typeof value === 'number') return value;
  if (/^[0-9]+$/.test(value)) return Number(value);
  const id = getent(db, value);
  if (id !== undefined) return id;
  problems.push({ file, message: `${field}: no such ${db === 'passwd' ? 'user' : 'group'}: ${value}` });
  return undefined;
}

/** Forgets the names looked up: each load of the configuration asks again. */
export function clearIdCache(): void {
  ids.clear();
}

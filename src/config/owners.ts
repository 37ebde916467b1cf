/** owner and group names to ids, through NSS (`getent`), so LDAP and sssd names work too. */
import { execFileSync } from 'node:child_process';
import type { ConfigProblem } from '../errors';
import { errorMessage } from '../errors';

type Answer = { id: number } | { problem: string };

/** One lookup per load of the configuration: one getent process per name, however many targets share it. */
export class IdLookup {
  private readonly answers = new Map<string, Answer>();

  /** The id of a user or group name (a number, or digits, is taken as it is); a problem naming file and field if none. */
  resolve(db: 'passwd' | 'group', value: string | number, file: string, field: string, problems: ConfigProblem[]): number | undefined {
    if (typeof value === 'number') return value;
    if (/^[0-9]+$/.test(value)) return Number(value);
    const k = `${db}:${value}`;
    let answer = this.answers.get(k);
    if (!answer) {
      answer = getent(db, value);
      this.answers.set(k, answer);
    }
    if ('id' in answer) return answer.id;
    problems.push({ file, message: `${field}: ${answer.problem}` });
    return undefined;
  }
}

function getent(db: 'passwd' | 'group', name: string): Answer {
  const what = db === 'passwd' ? 'user' : 'group';
  let line: string;
  try {
    line = execFileSync('getent', [db, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; status?: number | null; stderr?: string };
    // getent exits 2 when the name is unknown; anything else is the lookup itself failing.
    if (e.status === 2) return { problem: `no such ${what}: ${name}` };
    if (e.code === 'ENOENT') return { problem: `cannot look up ${what} ${name}: getent is not installed (give a numeric id)` };
    return { problem: `cannot look up ${what} ${name}: getent ${db} failed: ${e.stderr?.trim() || errorMessage(err)}` };
  }
  const id = Number(line.split(':')[2]);
  return Number.isInteger(id) ? { id } : { problem: `cannot look up ${what} ${name}: getent gave ${JSON.stringify(line.trim())}` };
}

/**
 * One confd template resource (`conf.d/*.toml`, table `[template]`) as a reconfig target: src, dest, keys
 * (with confd's prefix put in front), mode, uid/gid (or owner/group names), check_cmd with `{{.src}}` as
 * reconfig's `{{src}}`, and reload_cmd. Whatever cannot be carried over is a problem naming its line.
 */
import * as gopath from '../../render/go/path';
import { lineOf, readToml, type FileProblem } from './toml';

export interface Resource {
  id: string;
  /** The TOML file. */
  file: string;
  /** confd's src, relative to confd's templates/. */
  src: string;
  /** The prefix the template's keys are relative to, when the resource has its own. */
  prefix?: string;
  /** The conf.d JSON, in the order fields are written. */
  target: Record<string, unknown>;
}

const KNOWN = new Set(['src', 'dest', 'keys', 'prefix', 'mode', 'uid', 'gid', 'owner', 'group', 'check_cmd', 'reload_cmd']);

/** The resource in `text` (the TOML file `file`), or undefined after pushing why to `problems`. */
export function readResource(
  file: string,
  text: string,
  opts: { id: string; globalPrefix?: string },
  problems: FileProblem[],
  notes: FileProblem[],
): Resource | undefined {
  const before = problems.length;
  const doc = readToml(file, text, problems);
  if (!doc) return undefined;
  const t = doc.template;
  if (typeof t !== 'object' || t === null || Array.isArray(t)) {
    problems.push({ file, line: 1, message: 'no [template] table: confd reads nothing from this file' });
    return undefined;
  }
  const tpl = t as Record<string, unknown>;
  const at = (key: string): number => lineOf(text, key, 'template');
  const bad = (key: string, message: string): void => void problems.push({ file, line: at(key), message: `${key}: ${message}` });
  const str = (key: string): string | undefined => {
    const v = tpl[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') return void bad(key, `must be a string, not ${JSON.stringify(v)}`);
    return v;
  };
  for (const key of Object.keys(tpl)) {
    if (!KNOWN.has(key)) notes.push({ file, line: at(key), message: `${key}: not a field confd reads; ignored` });
  }
  for (const key of Object.keys(doc)) {
    if (key !== 'template') notes.push({ file, line: lineOf(text, key), message: `${key}: outside [template]; confd ignores it, and so does the import` });
  }

  const src = str('src');
  const dest = str('dest');
  if (src === undefined && tpl.src === undefined) problems.push({ file, line: at('src'), message: 'src: is required (the template, relative to templates/)' });
  if (dest === undefined && tpl.dest === undefined) problems.push({ file, line: at('dest'), message: 'dest: is required (the file to write)' });
  if (dest !== undefined && !dest.startsWith('/')) bad('dest', `${JSON.stringify(dest)} is relative: confd wrote it relative to its working directory; give an absolute path`);

  // confd's prefix: confd.toml's replaces the resource's; either is put before every key.
  const own = str('prefix');
  let prefix = own;
  if (own !== undefined && opts.globalPrefix !== undefined && own !== opts.globalPrefix) {
    notes.push({ file, line: at('prefix'), message: `prefix ${JSON.stringify(own)} is ignored: confd.toml's prefix ${JSON.stringify(opts.globalPrefix)} replaces it, in confd as here` });
    prefix = undefined;
  }
  if (opts.globalPrefix !== undefined) prefix = undefined;
  const norm = prefix === undefined || prefix === '' ? undefined : prefix.startsWith('/') ? prefix : `/${prefix}`;

  const keysValue = tpl.keys;
  let keys: string[] = [];
  if (keysValue === undefined) problems.push({ file, line: at('keys'), message: 'keys: none given: a reconfig target needs at least one key' });
  else if (!Array.isArray(keysValue) || !keysValue.every((k) => typeof k === 'string')) bad('keys', 'must be an array of strings');
  else if (keysValue.length === 0) bad('keys', 'is empty: a reconfig target needs at least one key');
  else {
    keys = [...new Set(keysValue.map((k) => gopath.join(norm ?? '/', k)))];
    if (keys.includes('/')) bad('keys', '"/" (everything) needs a global prefix in reconfig (--prefix): give the keys the template reads');
  }

  const target: Record<string, unknown> = { id: opts.id, source: `${opts.id}.ejs`, target: dest };
  if (keys.length === 1) target.key = keys[0];
  else if (keys.length > 1) target.keys = keys;
  // confd reads each key as a prefix: the key itself and everything under it.
  target.recursive = true;

  const mode = tpl.mode;
  if (mode !== undefined) {
    const m = typeof mode === 'string' ? /^0[oO]?([0-7]{1,4})$/.exec(mode) : null;
    if (!m) bad('mode', `${JSON.stringify(mode)}: give an octal string such as "0644" (confd reads "644" as decimal 644)`);
    else if (m[1].length === 4 && m[1][0] !== '0') bad('mode', `${m[0]}: setuid, setgid and sticky bits are not written by reconfig`);
    else target.mode = `0${m[1].slice(-3).padStart(3, '0')}`;
  }
  for (const [key, field] of [['uid', 'owner'], ['gid', 'group']] as const) {
    const v = tpl[key];
    if (v === undefined) continue;
    if (typeof v !== 'bigint' && typeof v !== 'number') bad(key, `must be a number, not ${JSON.stringify(v)}`);
    else if (Number(v) >= 0) target[field] = Number(v);
  }
  for (const key of ['owner', 'group'] as const) {
    const v = str(key);
    if (v === undefined) continue;
    if (target[key] !== undefined) bad(key, `given beside ${key === 'owner' ? 'uid' : 'gid'}: keep one`);
    else target[key] = v;
  }

  const check = str('check_cmd');
  if (check !== undefined) {
    const converted = check.replace(/\{\{\s*\.src\s*\}\}/g, '{{src}}');
    if (/\{\{(?!src\}\})/.test(converted)) bad('check_cmd', 'holds a Go template action other than {{.src}}, which reconfig does not expand');
    target.checkcmd = converted;
  }
  const reload = str('reload_cmd');
  if (reload !== undefined) target.reloadcmd = reload;

  if (problems.length > before || src === undefined) return undefined;
  return { id: opts.id, file, src, ...(norm && norm !== '/' ? { prefix: norm } : {}), target };
}

/**
 * `reconfig import confd --confdir /etc/confd --out /etc/reconfig [--dry-run] [--force]`: confd's template
 * resources (conf.d/*.toml) and the Go templates they name become reconfig targets (conf.d/<id>.json) and EJS
 * templates (templates/<id>.ejs); confd.toml becomes the RECONFIG_* lines of /etc/default/reconfig, printed.
 *
 * read -> translate -> check (every output compiles) -> write (or print, with --dry-run). Anything that cannot
 * be carried over is reported as `file:line: what and why`, and then nothing is written, unless --force:
 * then each untranslated place carries a marker that `reconfig validate` refuses until it is fixed.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TemplateError, UsageError, errorMessage, type RunResult } from '../../errors';
import { UNTRANSLATED_MARK, compileTemplate } from '../../render/template';
import { translate } from './emit';
import { readResource } from './resource';
import { readSettings } from './settings';
import { formatProblem, lineOf, type FileProblem } from './toml';

export interface ImportOptions {
  /** confd's directory: conf.d/, templates/ and (optionally) confd.toml. */
  confdir: string;
  /** reconfig's cfgdir to write: conf.d/ and templates/. */
  out: string;
  /** Print what would be written; write nothing. */
  dryRun: boolean;
  /** Write despite problems (marking each untranslated place), and over existing files. */
  force: boolean;
}

interface Output {
  file: string;
  text: string;
}

/** Runs the import; problems go to `err`, what is written (or would be) and the settings lines to `out`. */
export function importConfd(opts: ImportOptions, out: (t: string) => void, err: (t: string) => void): Promise<RunResult> {
  try {
    return Promise.resolve(run(opts, out, err));
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

function run(opts: ImportOptions, out: (t: string) => void, err: (t: string) => void): RunResult {
  const confd = path.join(opts.confdir, 'conf.d');
  if (!existsSync(confd)) return { kind: 'failed', error: new UsageError(`--confdir ${opts.confdir}: no conf.d/ there (is it confd's directory, such as /etc/confd?)`) };
  const problems: FileProblem[] = [];
  const notes: FileProblem[] = [];

  const tomlFile = path.join(opts.confdir, 'confd.toml');
  const settings = existsSync(tomlFile) ? readSettings(tomlFile, readFileSync(tomlFile, 'utf8'), opts.out, problems) : undefined;

  let names: string[];
  try {
    names = readdirSync(confd).filter((n) => n.endsWith('.toml')).sort();
  } catch (e) {
    return { kind: 'failed', error: new UsageError(`${confd}: cannot be read: ${errorMessage(e)}`, { cause: e }) };
  }
  if (names.length === 0) return { kind: 'failed', error: new UsageError(`${confd}: no template resources (*.toml) to import`) };

  const outputs: Output[] = [];
  for (const name of names) {
    const file = path.join(confd, name);
    const text = readFileSync(file, 'utf8');
    const id = name.slice(0, -'.toml'.length);
    const res = readResource(file, text, { id, globalPrefix: settings?.prefix }, problems, notes);
    if (!res) continue;
    const src = path.join(opts.confdir, 'templates', res.src);
    let source: string;
    try {
      source = readFileSync(src, 'utf8');
    } catch (e) {
      problems.push({ file, line: lineOf(text, 'src', 'template'), message: `src: ${src} cannot be read: ${errorMessage(e)}` });
      continue;
    }
    const t = translate(source, { file: src, prefix: res.prefix, force: opts.force });
    for (const p of t.problems) problems.push({ file: src, ...p });
    if (t.problems.length > 0 && !opts.force) continue;
    const ejsFile = path.join(opts.out, 'templates', `${id}.ejs`);
    const ejs = t.ejs;
    if (!ejs.includes(UNTRANSLATED_MARK)) {
      try {
        compileTemplate(ejsFile, ejs);
      } catch (e) {
        // The translator wrote something EJS refuses: our bug, not the user's; say so rather than write it.
        const line = e instanceof TemplateError ? (e.line ?? 1) : 1;
        problems.push({ file: src, line, message: `the translation does not compile (a bug in reconfig import; please report it): ${errorMessage(e)}` });
        continue;
      }
    }
    outputs.push({ file: path.join(opts.out, 'conf.d', `${id}.json`), text: `${JSON.stringify(res.target, null, 2)}\n` });
    outputs.push({ file: ejsFile, text: ejs });
  }

  for (const o of outputs) {
    if (!opts.force && existsSync(o.file) && readFileSync(o.file, 'utf8') !== o.text) {
      problems.push({ file: o.file, line: 1, message: 'exists and differs: not overwritten (move it away, or --force)' });
    }
  }
  for (const n of notes) err(`${formatProblem({ ...n, message: `note: ${n.message}` })}\n`);
  for (const p of problems) err(`${formatProblem(p)}\n`);
  if (problems.length > 0 && !opts.force) {
    err(`${problems.length} problem(s): nothing written (--force writes anyway, marking each untranslated place for \`reconfig validate\` to refuse)\n`);
    return { kind: 'invalid' };
  }

  if (opts.dryRun) {
    for (const o of outputs) out(`--- ${o.file}\n${o.text}${o.text.endsWith('\n') ? '' : '\n'}`);
  } else {
    for (const o of outputs) writeAtomically(o.file, o.text);
  }
  if (settings) out(`${settings.lines.join('\n')}\n`);
  const verb = opts.dryRun ? 'would write' : 'wrote';
  out(`${verb} ${outputs.length / 2} target(s) to ${opts.out}${problems.length ? `, with ${problems.length} place(s) marked UNTRANSLATED` : ''}\n`);
  return { kind: 'ok' };
}

/** Writes beside the destination, then renames: a reader sees the old file or the new one, never half. */
function writeAtomically(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
}

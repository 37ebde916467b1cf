/**
 * The man page, reconfig(1), made from the sources the docs are made from: the commands and flags from
 * commander's definitions (cli-model.ts), the target fields from the JSON Schema (field-table.ts), and the
 * environment, exit codes and signals from the sections of docs/configuration.md and docs/operating.md that say
 * them. `npm run docs:man` writes it to dist/man/reconfig.1 (build output, for the packages to install);
 * test/docs/man.test.ts checks it with groff and against those sources.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cliModel, type CommandModel, type Flag } from './cli-model';
import { ROOT } from './doc-markers';
import { fields } from './field-table';
import { version } from '../src/version';

export const MAN_PAGE = path.join(ROOT, 'dist', 'man', 'reconfig.1');

/** Text for roff: backslashes doubled, hyphens as \-, and a leading . or ' kept from being read as a request. */
export function esc(s: string): string {
  return s.replace(/\\/g, '\\e').replace(/-/g, '\\-').replace(/^([.'])/gm, '\\&$1');
}

/** One line of Markdown (code, bold, links) as roff text. */
export function inline(md: string): string {
  const out: string[] = [];
  const re = /`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\([^)]*\)/g;
  let at = 0;
  for (const m of md.matchAll(re)) {
    out.push(esc(md.slice(at, m.index)));
    if (m[1] !== undefined) out.push(`\\fB${esc(m[1])}\\fR`);
    else if (m[2] !== undefined) out.push(`\\fB${inline(m[2]).replace(/\\fR/g, '\\fB')}\\fR`);
    else out.push(inline(m[3]));
    at = m.index + m[0].length;
  }
  out.push(esc(md.slice(at)));
  return out.join('').replace(/&lt;/g, '<');
}

/** The body of the `## title` section of a docs page, up to the next heading of that level or above. */
export function section(page: string, title: string): string {
  const text = readFileSync(path.join(ROOT, 'docs', page), 'utf8');
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l === `## ${title}`);
  if (start < 0) throw new Error(`docs/${page} has no section "## ${title}"`);
  const end = lines.findIndex((l, i) => i > start && /^#{1,2} /.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n').trim();
}

/** The rows of the first Markdown table in `md`, header and rule left out. */
export function tableRows(md: string): string[][] {
  const rows = md.split('\n').filter((l) => l.startsWith('|'));
  return rows.slice(2).map((r) =>
    r
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim().replace(/\\\|/g, '|')),
  );
}

/** A section of Markdown (paragraphs, `- ` lists, tables, fenced blocks) as roff, in its order. */
export function roff(md: string): string[] {
  const out: string[] = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; ) {
    const l = lines[i];
    if (l.trim() === '') {
      i++;
    } else if (l.startsWith('```')) {
      const end = lines.indexOf('```', i + 1);
      out.push('.PP', '.nf', ...lines.slice(i + 1, end < 0 ? undefined : end).map(esc), '.fi');
      i = end < 0 ? lines.length : end + 1;
    } else if (l.startsWith('|')) {
      let j = i;
      while (j < lines.length && lines[j].startsWith('|')) j++;
      for (const [first, ...rest] of tableRows(lines.slice(i, j).join('\n'))) out.push('.TP', `\\fB${inline(first)}\\fR`, inline(rest.join('; ')));
      i = j;
    } else if (l.startsWith('- ')) {
      let item = l.slice(2).trim();
      for (i++; i < lines.length && /^\s+\S/.test(lines[i]); i++) item += ` ${lines[i].trim()}`;
      out.push('.IP \\(bu 2', inline(item));
    } else {
      let para = l.trim();
      for (i++; i < lines.length && lines[i].trim() !== '' && !/^(- |\||```)/.test(lines[i]); i++) para += ` ${lines[i].trim()}`;
      out.push('.PP', inline(para));
    }
  }
  return out;
}

/** Help text as it is written (etcd stays lower case), ending in a full stop. */
const sentence = (s: string): string => `${inline(s)}${s.endsWith('.') ? '' : '.'}`;

function flagLines(f: Flag): string[] {
  const m = /^(.*?)(?: ([<[].*))?$/.exec(f.flags);
  const names = (m?.[1] ?? f.flags).split(', ').map((n) => `\\fB${esc(n)}\\fR`).join(', ');
  const arg = m?.[2] ? ` \\fI${esc(m[2])}\\fR` : '';
  const more: string[] = [];
  if (f.default !== undefined && f.default !== '""' && !f.boolean) more.push(`Default: ${esc(f.default.replace(/^"(.*)"$/, '$1'))}.`);
  if (f.choices) more.push(`One of: ${f.choices.map(esc).join(', ')}.`);
  if (f.env) more.push(`Environment: \\fB${esc(f.env)}\\fR${f.boolean ? ' (true or false)' : ''}.`);
  return ['.TP', `${names}${arg}`, `${sentence(f.description)}${more.length ? ` ${more.join(' ')}` : ''}`];
}

function commandSection(cmd: CommandModel, shared: readonly Flag[]): string[] {
  const sub = cmd.name.split(' ')[1];
  const own = cmd.flags.filter((f) => !shared.some((s) => s.flags === f.flags && s.description === f.description));
  const also = cmd.flags.filter((f) => !own.includes(f) && f.long !== '--help');
  const out = ['.SS', `\\fBreconfig ${esc(sub)}\\fR`, sentence(cmd.description)];
  for (const a of cmd.args) out.push('.TP', `\\fI${esc(a.name)}\\fR`, sentence(a.description));
  for (const f of own) out.push(...flagLines(f));
  if (also.length > 0) out.push('.PP', `Also ${also.map((f) => `\\fB${esc(f.long ?? f.flags)}\\fR`).join(', ')}, as above.`);
  return out;
}

/** The whole page, in roff (man macros). */
export function manPage(): string {
  const { program, commands } = cliModel();
  const lines: string[] = [
    `.\\" Generated by scripts/man-page.ts (npm run docs:man) from src/cli.ts, src/config/schema.ts and docs/; do not edit.`,
    `.TH RECONFIG 1 "" "reconfig ${esc(version)}" "User Commands"`,
    '.SH NAME',
    'reconfig \\- keep configuration files in step with etcd',
    '.SH SYNOPSIS',
    ...[program, ...commands].flatMap((c, i) => [i ? '.br' : '', `\\fBreconfig\\fR ${esc(c.usage.split(/\s+\|\s+/)[0].replace(/^reconfig ?/, ''))}`]).filter(Boolean),
    '.SH DESCRIPTION',
    sentence(program.description),
    '.PP',
    'Each target file in \\fI<cfgdir>/conf.d/*.json\\fR binds etcd keys to an EJS template in',
    '\\fI<cfgdir>/templates/\\fR and a target file. When the keys change, reconfig renders the file, runs the',
    "target's \\fBcheckcmd\\fR on the staged file, swaps it into place atomically and runs \\fBreloadcmd\\fR.",
    'Without a command, reconfig is the agent: it watches etcd and applies every change (or, with',
    '\\fB\\-\\-onetime\\fR, applies every target once and exits). After \\fB\\-\\-\\fR it starts a program and',
    'signals it after each change (sidecar mode).',
    '.SH OPTIONS',
    ...program.flags.flatMap(flagLines),
    '.SH COMMANDS',
    ...commands.flatMap((c) => commandSection(c, program.flags)),
    '.SH TARGET FILES',
    'One JSON object per file; an unknown field is an error. The fields:',
    ...fields().flatMap((f) => ['.TP', `\\fB${esc(f.name)}\\fR (${esc(f.type)}; ${f.default === 'required' || f.default === 'none' ? f.default : `default ${esc(f.default)}`})`, inline(f.description)]),
    '.SH ENVIRONMENT',
    ...roff(section('configuration.md', 'Environment variables')),
    '.SH EXIT STATUS',
    ...roff(section('operating.md', 'Exit codes')),
    '.SH SIGNALS',
    ...roff(section('operating.md', 'Signals')),
    '.SH OUTPUT',
    ...roff(section('operating.md', 'Output: one convention')),
    '.SH EXAMPLES',
    '.nf',
    ...program.after.replace(/^Examples:\n/, '').split('\n').map((l) => esc(l)),
    '.fi',
    '.SH FILES',
    '.TP',
    '\\fI/etc/reconfig/conf.d/*.json\\fR',
    'Target files (the default \\fB\\-\\-cfgdir\\fR is \\fI/etc/reconfig\\fR).',
    '.TP',
    '\\fI/etc/reconfig/templates/\\fR',
    'Templates named by the targets\' \\fBsource\\fR.',
    '.TP',
    '\\fI/etc/default/reconfig\\fR',
    'RECONFIG_* settings and secrets for the systemd unit (mode 0600).',
    '.SH SEE ALSO',
    '\\fBetcd\\fR(1), \\fBetcdctl\\fR(1), \\fBsystemd.service\\fR(5);',
    "the documentation in the package's \\fIdocs/\\fR directory (\\fI/usr/share/doc/reconfig/\\fR in the Debian package).",
  ];
  return `${lines.join('\n')}\n`;
}

/** Writes the page (by default to dist/man/reconfig.1) and gives its path. */
export function writeManPage(file = MAN_PAGE): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, manPage(), { mode: 0o644 });
  return file;
}

if (require.main === module) {
  const out = writeManPage(process.argv[2] ?? MAN_PAGE);
  console.log(`${path.relative(process.cwd(), out)}: man page written`);
}

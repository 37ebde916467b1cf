/**
 * The configuration reference's tables of flags (docs/configuration.md), made from commander's definitions in
 * src/cli.ts (read by cli-model.ts): one table for the agent, one per command with the flags it adds.
 * `npm run docs:flags` rewrites them between the page's markers; test/docs/flags.test.ts fails when the page and
 * the CLI differ.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cliModel, type CommandModel, type Flag } from './cli-model';
import { ROOT, between } from './doc-markers';

export const PAGE = path.join(ROOT, 'docs', 'configuration.md');
export const BEGIN = '<!-- flags: generated from src/cli.ts by `npm run docs:flags`; do not edit by hand -->';
export const END = '<!-- end of flags -->';

const cell = (s: string): string => s.replace(/\|/g, '\\|');
const code = (s: string): string => `\`${cell(s)}\``;

/** Flags, variables, URLs and words with <placeholders> in help text, which Markdown would mangle. */
const CODE_WORD = /(`[^`]+`|--[a-z][a-z0-9_-]*|RECONFIG_[A-Z0-9_]+|https?:\/\/[^\s),]+|[^\s(),]*<[^>\s]+>[^\s(),]*)/;

/** Help text as Markdown: code spans for what is typed, the rest escaped. */
export function prose(s: string): string {
  return s
    .split(CODE_WORD)
    .map((part, i) => (i % 2 === 1 ? (part.startsWith('`') ? cell(part) : code(part)) : cell(part).replace(/[*_<]/g, (c) => (c === '<' ? '&lt;' : `\\${c}`))))
    .join('');
}

const DEFAULT_IN_TEXT = / ?\(default: ([^)]*)\)/;

/** The default column: commander's default, else one the help text states, else off/none. */
function defaultOf(f: Flag): { shown: string; description: string } {
  const stated = DEFAULT_IN_TEXT.exec(f.description);
  if (f.boolean) return { shown: f.env === undefined ? '' : f.default === 'true' ? 'on' : 'off', description: f.description };
  if (f.default !== undefined && f.default !== '""') return { shown: code(f.default), description: f.description };
  if (stated) return { shown: prose(stated[1]), description: f.description.replace(DEFAULT_IN_TEXT, '') };
  return { shown: 'none', description: f.description };
}

function row(f: Flag): string {
  const env = f.env ? `${code(f.env)}${f.boolean ? ' (true/false)' : ''}` : '';
  const { shown, description } = defaultOf(f);
  const choices = f.choices ? `; one of ${f.choices.map(code).join(', ')}` : '';
  return `| ${code(f.flags)} | ${env} | ${shown} | ${prose(description)}${choices} |`;
}

const same = (a: Flag, b: Flag): boolean => a.flags === b.flags && a.description === b.description && a.default === b.default;

/** The program's usage names the commands too (`... | validate [options] | ...`): its first form is the agent's. */
const usageOf = (cmd: CommandModel): string => cmd.usage.split(/\s+\|\s+/)[0];

function table(cmd: CommandModel, shared: readonly Flag[]): string {
  const own = cmd.flags.filter((f) => !shared.some((s) => same(s, f)));
  const also = cmd.flags.filter((f) => shared.some((s) => same(s, f)) && f.long !== '--help');
  const lines = [`**\`${usageOf(cmd)}\`**: ${prose(cmd.description.replace(/\.$/, ''))}.`, ''];
  for (const a of cmd.args) lines.push(`- \`<${a.name}>\`${a.required ? '' : ' (optional)'}: ${prose(a.description)}`, '');
  if (own.length > 0) lines.push('| flag | variable | default | meaning |', '|---|---|---|---|', ...own.map(row), '');
  if (also.length > 0) lines.push(`${own.length > 0 ? 'And' : 'Flags'}, as for the agent: ${also.map((f) => code(f.long ?? f.flags)).join(', ')}.`, '');
  return lines.join('\n').trimEnd();
}

/** The Markdown that goes between the markers. */
export function flagTables(): string {
  const { program, commands } = cliModel();
  return [table(program, []), ...commands.map((c) => table(c, program.flags))].join('\n\n');
}

/** The page with its tables replaced by those the CLI gives. */
export function withFlags(page: string): string {
  return between(page, BEGIN, END, flagTables(), 'docs/configuration.md');
}

if (require.main === module) {
  writeFileSync(PAGE, withFlags(readFileSync(PAGE, 'utf8')));
  console.log('docs/configuration.md: flags tables written from src/cli.ts');
}

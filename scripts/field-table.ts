/**
 * The README's table of target fields, made from the JSON Schema (src/config/schema.ts): one row per property,
 * its type, its default, and its description. `npm run docs:fields` rewrites the table between the README's
 * markers; test/config/fields.test.ts fails when the README and the schema differ.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { targetSchema } from '../src/config/schema';

export const README = path.resolve(__dirname, '..', '..', 'README.md');
export const BEGIN = '<!-- fields: generated from src/config/schema.ts by `npm run docs:fields`; do not edit by hand -->';
export const END = '<!-- end of fields -->';

interface Prop {
  type?: string | string[];
  default?: unknown;
  description?: string;
}

function typeOf(p: Prop): string {
  const types = Array.isArray(p.type) ? p.type : [p.type ?? 'any'];
  return types.join(' or ');
}

/** The Markdown table, header included. */
export function fieldTable(): string {
  const required = new Set<string>(targetSchema.required as string[]);
  const rows = Object.entries(targetSchema.properties as Record<string, Prop>).map(([name, p]) => {
    const dflt = required.has(name) ? 'required' : p.default === undefined ? 'none' : `\`${JSON.stringify(p.default)}\``;
    const meaning = (p.description ?? '').replace(/\|/g, '\\|');
    return `| \`${name}\` | ${typeOf(p)} | ${dflt} | ${meaning} |`;
  });
  return ['| field | type | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** The README with its table replaced by the one the schema gives. */
export function withTable(readme: string): string {
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md has no field table markers (${BEGIN} ... ${END})`);
  return `${readme.slice(0, a + BEGIN.length)}\n${fieldTable()}\n${readme.slice(b)}`;
}

if (require.main === module) {
  writeFileSync(README, withTable(readFileSync(README, 'utf8')));
  console.log('README.md: field table written from the schema');
}

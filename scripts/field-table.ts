/**
 * The configuration reference's table of target fields (docs/configuration.md), made from the JSON Schema
 * (src/config/schema.ts): one row per property, its type, its default, and its description. `npm run docs:fields`
 * rewrites the table between the page's markers; test/config/fields.test.ts fails when the page and the schema
 * differ.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { targetSchema } from '../src/config/schema';
import { ROOT, between } from './doc-markers';

export const PAGE = path.join(ROOT, 'docs', 'configuration.md');
export const BEGIN = '<!-- fields: generated from src/config/schema.ts by `npm run docs:fields`; do not edit by hand -->';
export const END = '<!-- end of fields -->';

export interface Field {
  name: string;
  type: string;
  /** `required`, `none`, or the default as JSON. */
  default: string;
  description: string;
}

interface Prop {
  type?: string | string[];
  default?: unknown;
  description?: string;
}

function typeOf(p: Prop): string {
  const types = Array.isArray(p.type) ? p.type : [p.type ?? 'any'];
  return types.join(' or ');
}

/** The schema's properties in its order, for this table and the man page. */
export function fields(): Field[] {
  const required = new Set<string>(targetSchema.required as string[]);
  return Object.entries(targetSchema.properties as Record<string, Prop>).map(([name, p]) => ({
    name,
    type: typeOf(p),
    default: required.has(name) ? 'required' : p.default === undefined ? 'none' : JSON.stringify(p.default),
    description: p.description ?? '',
  }));
}

/** The Markdown table, header included. */
export function fieldTable(): string {
  const rows = fields().map((f) => {
    const dflt = f.default === 'required' || f.default === 'none' ? f.default : `\`${f.default}\``;
    return `| \`${f.name}\` | ${f.type} | ${dflt} | ${f.description.replace(/\|/g, '\\|')} |`;
  });
  return ['| field | type | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** The page with its table replaced by the one the schema gives. */
export function withTable(page: string): string {
  return between(page, BEGIN, END, fieldTable(), 'docs/configuration.md');
}

if (require.main === module) {
  writeFileSync(PAGE, withTable(readFileSync(PAGE, 'utf8')));
  console.log('docs/configuration.md: field table written from the schema');
}

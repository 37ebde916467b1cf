import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { README, withTable } from '../../scripts/field-table';

test("the README's field table is the one the schema gives (npm run docs:fields)", () => {
  const readme = readFileSync(README, 'utf8');
  assert.equal(readme, withTable(readme), 'README.md and src/config/schema.ts differ: run `npm run docs:fields`');
});

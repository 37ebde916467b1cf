import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { PAGE, withTable } from '../../scripts/field-table';

test("the configuration reference's field table is the one the schema gives (npm run docs:fields)", () => {
  const page = readFileSync(PAGE, 'utf8');
  assert.equal(page, withTable(page), 'docs/configuration.md and src/config/schema.ts differ: run `npm run docs:fields`');
});

/** The configuration reference's flags tables are the CLI's own, and the CLI read for them is the one users run. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CLI, cliModel } from '../../scripts/cli-model';
import { PAGE, withFlags } from '../../scripts/flags-table';

test("docs/configuration.md's flags tables are the ones src/cli.ts gives (npm run docs:flags)", () => {
  const page = readFileSync(PAGE, 'utf8');
  assert.equal(page, withFlags(page), 'docs/configuration.md and src/cli.ts differ: run `npm run docs:flags`');
});

test("the model holds every option that each command's --help prints, and no other", () => {
  const { program, commands } = cliModel();
  for (const cmd of [program, ...commands]) {
    const argv = cmd === program ? ['--help'] : [...cmd.name.split(' ').slice(1), '--help'];
    const help = execFileSync(process.execPath, [CLI, ...argv], { encoding: 'utf8' });
    // commander prints each option at the start of a line, two spaces in, before its description.
    const options = help
      .split('\n')
      .filter((l) => /^ {2}-/.test(l))
      .map((l) => l.trim().split(/\s{2,}/)[0]);
    assert.deepEqual(cmd.flags.map((f) => f.flags), options, `${cmd.name}: the model and --help differ`);
    for (const f of cmd.flags) if (f.env && !f.boolean) assert.match(help.replace(/\s+/g, ' '), new RegExp(`env: ${f.env}\\b`), f.flags);
  }
  assert.deepEqual(commands.map((c) => c.name), ['reconfig validate', 'reconfig render', 'reconfig history', 'reconfig rollback', 'reconfig import confd', 'reconfig fleet']);
});

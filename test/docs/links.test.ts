/** Every relative link in README.md and docs/ leads somewhere: the file exists and so does the heading it names. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT, anchors, links, pages } from './markdown';

/** The broken relative links of one page (given its text and its path in the repository), as messages. */
function broken(page: string, text: string, read: (file: string) => string | undefined): string[] {
  const problems: string[] = [];
  for (const { target, line } of links(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
    const [file, anchor] = target.split('#', 2) as [string, string | undefined];
    const dest = file === '' ? page : path.normalize(path.join(path.dirname(page), decodeURIComponent(file)));
    const where = `${page}:${line}: ${target}`;
    if (dest.startsWith('..')) {
      problems.push(`${where}: points outside the repository`);
      continue;
    }
    const body = read(dest);
    if (body === undefined) problems.push(`${where}: ${dest} does not exist`);
    else if (anchor !== undefined && dest.endsWith('.md') && !anchors(body).has(anchor)) problems.push(`${where}: ${dest} has no heading #${anchor}`);
  }
  return problems;
}

function fromRepo(file: string): string | undefined {
  const p = path.join(ROOT, file);
  if (!existsSync(p)) return undefined;
  return statSync(p).isDirectory() ? '' : readFileSync(p, 'utf8');
}

test('every relative link in README.md and docs/ resolves, anchors included', () => {
  const all = pages();
  assert.ok(all.includes('docs/configuration.md') && all.length > 10, `the pages were not found: ${all.join(', ')}`);
  let count = 0;
  const problems = all.flatMap((page) => {
    const text = readFileSync(path.join(ROOT, page), 'utf8');
    count += links(text).length;
    return broken(page, text, fromRepo);
  });
  assert.deepEqual(problems, []);
  assert.ok(count > 50, `only ${count} links found: is the link parser still finding them?`);
});

test('the checker reports a missing page, a missing heading and a link out of the repository', () => {
  const pagesHere: Record<string, string> = { 'docs/a.md': '# A\n\n## Exit codes\n', 'README.md': '' };
  const text = [
    '[ok](a.md#exit-codes) [ok too](../README.md) [web](https://example.com/x)',
    '[gone](b.md) [no heading](a.md#signals)',
    '`[in code](nowhere.md)`',
    '```',
    '[in a block](nowhere.md)',
    '```',
    '[out](../../etc/passwd)',
  ].join('\n');
  assert.deepEqual(broken('docs/x.md', text, (f) => pagesHere[f]), [
    'docs/x.md:2: b.md: docs/b.md does not exist',
    'docs/x.md:2: a.md#signals: docs/a.md has no heading #signals',
    'docs/x.md:7: ../../etc/passwd: points outside the repository',
  ]);
});

test("headings' anchors follow GitHub's rules", () => {
  const a = anchors('# Operating it\n## `validate` and `render`: no etcd needed\n## Output: one convention\n## Logs\n## Logs\n```\n# not a heading\n```\n');
  assert.deepEqual([...a], ['operating-it', 'validate-and-render-no-etcd-needed', 'output-one-convention', 'logs', 'logs-1']);
});

test('the README keeps to what a newcomer needs first: at most 250 lines', () => {
  const lines = readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('\n').length - 1;
  assert.ok(lines <= 250, `README.md has ${lines} lines; move detail into docs/`);
});

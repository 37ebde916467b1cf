/**
 * The shape of src/: no import cycle (type imports included), and no module imports from a layer above its own.
 * The layers, from the top: cli -> main -> modes -> ops -> {agent, rollout} -> {config, etcd, docker, render, apply, import}
 * -> {errors, log, target, version, signals}. A module may import from its own layer or any layer below.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO } from '../support/examples';

const SRC = path.join(REPO, 'src');

/** The layer of a module, by its path under src/ (higher is nearer the top). */
function layer(rel: string): number {
  const top = rel.split('/')[0];
  if (rel === 'cli.ts' || rel === 'flags.ts') return 6;
  if (rel === 'main.ts') return 5;
  if (top === 'modes') return 4;
  if (top === 'ops') return 3;
  if (top === 'agent' || top === 'rollout') return 2;
  if (['config', 'etcd', 'docker', 'render', 'apply', 'import'].includes(top)) return 1;
  if (['errors.ts', 'log.ts', 'target.ts', 'version.ts', 'signals.ts'].includes(rel)) return 0;
  throw new Error(`src/${rel}: no layer is assigned to it (add it to test/unit/architecture.test.ts)`);
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Every module of src/ that `file` imports: static, type-only, dynamic import() and require(). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = new Set<string>();
  const patterns = [/\bfrom\s+'([^']+)'/g, /\bimport\(\s*'([^']+)'\s*\)/g, /\brequire\(\s*'([^']+)'\s*\)/g, /^import\s+'([^']+)'/gm];
  for (const re of patterns) for (const m of text.matchAll(re)) specs.add(m[1]);
  const out: string[] = [];
  for (const s of specs) {
    if (!s.startsWith('.') || s.endsWith('.json')) continue;
    const base = path.resolve(path.dirname(file), s);
    const found = [`${base}.ts`, path.join(base, 'index.ts'), `${base}.d.ts`, base].find((p) => {
      try {
        return statSync(p).isFile();
      } catch {
        return false;
      }
    });
    if (!found) throw new Error(`${path.relative(REPO, file)}: cannot resolve import ${s}`);
    if (found.endsWith('.ts') && !found.endsWith('.d.ts') && found.startsWith(SRC)) out.push(found);
  }
  return out;
}

const files = sources(SRC);
const graph = new Map(files.map((f) => [f, imports(f)]));
const rel = (f: string): string => path.relative(SRC, f);

test('no module imports from a layer above its own', () => {
  const wrong: string[] = [];
  for (const [from, tos] of graph) {
    for (const to of tos) if (layer(rel(to)) > layer(rel(from))) wrong.push(`src/${rel(from)} imports src/${rel(to)}`);
  }
  assert.deepEqual(wrong, []);
});

test('src/ has no import cycle, type imports included', () => {
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const to of graph.get(f) ?? []) {
      if (state.get(to) === 'open') cycles.push([...stack.slice(stack.indexOf(to)), to].map(rel).join(' -> '));
      else if (!state.has(to)) visit(to);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  assert.deepEqual(cycles, []);
});

test('the check sees the imports it claims to (a known edge and a known layer)', () => {
  // Guards the test itself: were the patterns to stop matching, the two tests above would pass on nothing.
  const runner = path.join(SRC, 'agent', 'runner.ts');
  assert.ok(graph.get(runner)?.includes(path.join(SRC, 'target.ts')), 'agent/runner.ts imports target.ts');
  assert.ok(files.length > 40);
});

/**
 * Which definition a template name means, by Go's rules for one file (text/template/parse's Tree.add): a
 * definition replaces an earlier one whose body is empty (only spaces and comments), a later empty one is
 * ignored, and two non-empty ones are an error ("multiple definition of template"). A `block` is a definition
 * too, wherever it stands, not only at the top level.
 */
import type { Node } from './ast';

export type Define = Extract<Node, { t: 'define' }>;

export interface Defines {
  /** Each define's or block's function in the EJS, unique in the template. */
  readonly ids: Map<Define, string>;
  /** The definition that each name resolves to. */
  readonly winner: Map<string, Define>;
  /** Definitions that Go's parser refuses: a second non-empty body for a name. */
  readonly clashes: Set<Define>;
  /** Definitions at the top level, whose functions every part of the template sees. */
  readonly top: Set<Define>;
}

/** Go's parse.IsEmptyTree for a list: only text of white space, and comments. */
export function isEmptyTree(list: Node[]): boolean {
  return list.every((n) => n.t === 'comment' || (n.t === 'text' && n.text.trim() === ''));
}

function walk(list: Node[], visit: (d: Define, top: boolean) => void, top: boolean): void {
  for (const n of list) {
    if (n.t === 'define') {
      // Go adds a definition when its {{end}} is parsed: the blocks inside it come first.
      walk(n.list, visit, false);
      visit(n, top);
    } else if (n.t === 'if' || n.t === 'with' || n.t === 'range') {
      walk(n.list, visit, false);
      if (n.elseList) walk(n.elseList, visit, false);
    }
  }
}

/** Every definition in the tree, in the order Go's parser adds them, and what each name resolves to. */
export function collectDefines(nodes: Node[]): Defines {
  const d: Defines = { ids: new Map(), winner: new Map(), clashes: new Set(), top: new Set() };
  walk(
    nodes,
    (n, top) => {
      d.ids.set(n, `_t${d.ids.size}`);
      if (top) d.top.add(n);
      const prev = d.winner.get(n.name);
      if (!prev || isEmptyTree(prev.list)) d.winner.set(n.name, n);
      else if (!isEmptyTree(n.list)) d.clashes.add(n);
    },
    true,
  );
  return d;
}

/** The nested blocks directly in `list`, whose functions JS scopes to the block that holds that list. */
export function nestedIn(list: Node[], defs: Defines): Set<Define> {
  return new Set(list.filter((n): n is Define => n.t === 'define' && !defs.top.has(n)));
}

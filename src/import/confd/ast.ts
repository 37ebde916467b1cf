/**
 * The tree parse.ts builds from a Go template: nodes of text, actions and control structures, pipelines of
 * commands, and the operands of a command. Each action keeps its line and how many lines it spans.
 */

export type Arg =
  | { t: 'ident'; name: string; line: number }
  | { t: 'field'; recv: Arg | undefined; names: string[]; line: number }
  | { t: 'var'; name: string; line: number }
  | { t: 'dot' }
  | { t: 'nil' }
  | { t: 'bool'; value: boolean }
  | { t: 'number'; text: string; line: number }
  | { t: 'char'; value: string }
  | { t: 'string'; value: string }
  | { t: 'pipe'; pipe: Pipe };

export interface Pipe {
  line: number;
  /** Variables declared (`:=`) or assigned (`=`). */
  decl: string[];
  assign: boolean;
  cmds: Arg[][];
}

/** Where an action stood: its line and the newlines inside it, which the translation keeps. */
export interface Span {
  line: number;
  lines: number;
}

/** if, with or range; `elseChain`: the else list is one `else if` / `else with` that shares this {{end}}. */
export interface Control {
  t: 'if' | 'with' | 'range';
  pipe: Pipe;
  list: Node[];
  elseList?: Node[];
  elseChain: boolean;
  span: Span;
  elseSpan?: Span;
  endSpan?: Span;
}

export type Node =
  | { t: 'text'; text: string; dropped: number }
  | { t: 'comment'; text: string; span: Span }
  | { t: 'action'; pipe: Pipe; span: Span }
  | Control
  | { t: 'template'; name: string; pipe?: Pipe; span: Span }
  /** define, or block (a define called in place with `pipe`). */
  | { t: 'define'; name: string; pipe?: Pipe; list: Node[]; span: Span; endSpan: Span }
  | { t: 'break' | 'continue'; span: Span };


export class ParseError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

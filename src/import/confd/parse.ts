/**
 * Go text/template's parser over lex.ts's tokens: a tree of text, actions, if/else if/else, range (with
 * `$i, $e :=` and else), with (and else with), define/block/template, break/continue and comments, where each
 * action keeps its line and how many lines it spans. Errors carry the line, as Go's do.
 */
import { ParseError, type Arg, type Control, type Node, type Pipe, type Span } from './ast';
import { LexError, lex, type Token } from './lex';

export { ParseError, type Arg, type Control, type Node, type Pipe, type Span } from './ast';

/** Parses a whole template file; throws ParseError (lexing errors included) naming the line. */
export function parse(input: string): Node[] {
  let toks: Token[];
  try {
    toks = lex(input);
  } catch (err) {
    if (err instanceof LexError) throw new ParseError(err.line, err.message);
    throw err;
  }
  return new Parser(toks).tree();
}

class Parser {
  private i = 0;
  private rangeDepth = 0;
  constructor(private readonly toks: Token[]) {}

  private peek(k = 0): Token {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)];
  }
  private next(): Token {
    return this.toks[Math.min(this.i++, this.toks.length - 1)];
  }
  private fail(tok: Token, msg: string): never {
    throw new ParseError(tok.line, msg);
  }
  private expectClose(context: string): Token {
    const t = this.next();
    if (t.kind !== 'close') this.fail(t, `unexpected ${describe(t)} in ${context}`);
    return t;
  }
  private span(open: Token, close: Token): Span {
    return { line: open.line, lines: close.line - open.line };
  }

  tree(): Node[] {
    const { list, end } = this.list(true);
    if (end) this.fail(end.tok, `unexpected {{${end.word}}}`);
    return list;
  }

  /** Nodes up to {{end}} or {{else ...}} (returned as `end`), or to EOF at the top level. */
  private list(top = false): { list: Node[]; end?: { word: 'end' | 'else'; tok: Token; open: Token } } {
    const list: Node[] = [];
    for (;;) {
      const t = this.next();
      if (t.kind === 'eof') {
        if (!top) this.fail(t, 'unexpected EOF');
        return { list };
      }
      if (t.kind === 'text') {
        list.push({ t: 'text', text: t.value, dropped: t.dropped ?? 0 });
        continue;
      }
      // t is {{
      const k = this.peek();
      if (k.kind === 'comment') {
        this.next();
        const close = this.expectClose('comment');
        list.push({ t: 'comment', text: k.value, span: this.span(t, close) });
        continue;
      }
      if (k.kind === 'keyword') {
        this.next();
        switch (k.value) {
          case 'end':
          case 'else':
            return { list, end: { word: k.value, tok: k, open: t } };
          case 'if':
          case 'with':
          case 'range':
            list.push(this.control(k.value, t));
            continue;
          case 'define':
          case 'block': {
            if (k.value === 'define' && !top) this.fail(k, 'unexpected {{define}}: define must be at the top level');
            const name = this.next();
            if (name.kind !== 'string') this.fail(name, `name of ${k.value} must be a string`);
            const pipe = k.value === 'block' ? this.pipeline('block') : undefined;
            const close = pipe ? this.toks[this.i - 1] : this.expectClose(k.value);
            const body = this.list();
            if (body.end?.word !== 'end') this.fail(body.end?.tok ?? k, `expected end; found ${body.end ? 'else' : 'EOF'}`);
            const endSpan = this.span(body.end.open, this.expectClose('end'));
            list.push({ t: 'define', name: name.value, pipe, list: body.list, span: this.span(t, close), endSpan });
            continue;
          }
          case 'template': {
            const name = this.next();
            if (name.kind !== 'string') this.fail(name, 'template name must be a string');
            let pipe: Pipe | undefined;
            if (this.peek().kind !== 'close') pipe = this.pipeline('template');
            else this.next();
            list.push({ t: 'template', name: name.value, pipe, span: this.span(t, this.toks[this.i - 1]) });
            continue;
          }
          case 'break':
          case 'continue': {
            if (this.rangeDepth === 0) this.fail(k, `{{${k.value}}} outside {{range}}`);
            const close = this.expectClose(k.value);
            list.push({ t: k.value, span: this.span(t, close) });
            continue;
          }
        }
      }
      const pipe = this.pipeline('command');
      list.push({ t: 'action', pipe, span: this.span(t, this.toks[this.i - 1]) });
    }
  }

  private control(word: 'if' | 'with' | 'range', open: Token): Node {
    const pipe = this.pipeline(word);
    const span = this.span(open, this.toks[this.i - 1]);
    if (word === 'range') this.rangeDepth++;
    const body = this.list();
    if (word === 'range') this.rangeDepth--;
    const node: Control = { t: word, pipe, list: body.list, elseChain: false, span };
    if (!body.end) this.fail(open, `unexpected EOF in ${word}`);
    if (body.end.word === 'else') {
      const after = this.peek();
      if ((after.kind === 'keyword' && after.value === 'if' && word === 'if') || (after.kind === 'keyword' && after.value === 'with' && word === 'with')) {
        // {{else if ...}}: an if inside the else, sharing this one's {{end}}.
        this.next();
        node.elseChain = true;
        node.elseList = [this.control(word, body.end.open)];
        return node;
      }
      const close = this.expectClose('else');
      node.elseSpan = this.span(body.end.open, close);
      const rest = this.list();
      if (rest.end?.word !== 'end') this.fail(rest.end?.tok ?? open, `expected end; found ${rest.end ? 'else' : 'EOF'}`);
      node.elseList = rest.list;
      node.endSpan = this.span(rest.end.open, this.expectClose('end'));
    } else {
      node.endSpan = this.span(body.end.open, this.expectClose('end'));
    }
    return node;
  }

  /** A pipeline up to the closing delimiter (consumed) or a right paren (not consumed). */
  private pipeline(context: string): Pipe {
    const first = this.peek();
    const pipe: Pipe = { line: first.line, decl: [], assign: false, cmds: [] };
    // Declarations: $x := / $x = / $i, $e := (range).
    if (first.kind === 'var') {
      const a = this.peek(1);
      if (a.kind === 'declare' || a.kind === 'assign') {
        pipe.decl.push(first.value);
        pipe.assign = a.kind === 'assign';
        this.i += 2;
      } else if (a.kind === 'comma' && this.peek(2).kind === 'var' && ['declare', 'assign'].includes(this.peek(3).kind)) {
        if (context !== 'range') this.fail(a, `too many declarations in ${context}`);
        pipe.decl.push(first.value, this.peek(2).value);
        pipe.assign = this.peek(3).kind === 'assign';
        this.i += 4;
      }
    }
    for (;;) {
      const cmd: Arg[] = [];
      for (;;) {
        const t = this.peek();
        if (t.kind === 'close' || t.kind === 'rparen' || t.kind === 'pipe' || t.kind === 'eof') break;
        cmd.push(this.operand());
      }
      const end = this.next();
      if (cmd.length === 0) this.fail(end, end.kind === 'pipe' ? 'missing command before |' : `missing value for ${context}`);
      pipe.cmds.push(cmd);
      if (end.kind === 'pipe') continue;
      if (end.kind === 'rparen') this.i--;
      else if (end.kind !== 'close') this.fail(end, `unexpected ${describe(end)} in ${context}`);
      return pipe;
    }
  }

  private operand(): Arg {
    const t = this.next();
    let arg: Arg;
    switch (t.kind) {
      case 'ident': arg = { t: 'ident', name: t.value, line: t.line }; break;
      case 'field': arg = { t: 'field', recv: undefined, names: [t.value], line: t.line }; break;
      case 'dot': arg = { t: 'dot' }; break;
      case 'var': arg = { t: 'var', name: t.value, line: t.line }; break;
      case 'nil': arg = { t: 'nil' }; break;
      case 'bool': arg = { t: 'bool', value: t.value === 'true' }; break;
      case 'number': arg = { t: 'number', text: t.value, line: t.line }; break;
      case 'char': arg = { t: 'char', value: t.value }; break;
      case 'string': arg = { t: 'string', value: t.value }; break;
      case 'lparen': {
        const pipe = this.pipeline('parenthesized pipeline');
        const r = this.next();
        if (r.kind !== 'rparen') this.fail(r, 'unclosed left paren');
        arg = { t: 'pipe', pipe };
        break;
      }
      default:
        this.fail(t, `unexpected ${describe(t)} in operand`);
    }
    // A field chain written right after its operand: .a.b, $x.a, (pipe).a
    while (this.peek().kind === 'field' && !this.peek().spaced) {
      const f = this.next();
      if (arg.t === 'field') arg.names.push(f.value);
      else if (arg.t === 'nil' || arg.t === 'bool' || arg.t === 'string' || arg.t === 'number') this.fail(f, `unexpected . after term ${JSON.stringify(f.value)}`);
      else arg = { t: 'field', recv: arg.t === 'dot' ? undefined : arg, names: [f.value], line: f.line };
    }
    return arg;
  }
}

function describe(t: Token): string {
  if (t.kind === 'close') return `"${t.value}"`;
  if (t.kind === 'eof') return 'EOF';
  return `${t.kind} ${JSON.stringify(t.value)}`;
}

/**
 * Writes parse.ts's tree as an EJS template for reconfig's compileTemplate. Go's semantics live in the
 * `gotpl` local (printing, truth, range, fields, built-ins) and confd's functions in the `confd` local; the
 * template text is kept byte for byte (trim markers were applied by the lexer), and each line of the Go
 * template stays on the same line of the EJS one, so that a render error names the line the user wrote.
 *
 * Go variables keep their names (`$x`); dot is `dot`; control structures become JS blocks with Go's scoping.
 * What cannot be translated is returned as a problem with its line; with `force`, the place gets a marker
 * comment that compileTemplate refuses until someone fixes it.
 */
import { UNTRANSLATED_MARK } from '../../render/template';
import { arityError } from './arity';
import { collectDefines, nestedIn, type Define, type Defines } from './defines';
import { Untranslatable, callee, describe, ejsText, lit, number } from './names';
import { parse, ParseError, type Arg, type Control, type Node, type Pipe, type Span } from './parse';

export interface Problem {
  line: number;
  message: string;
}

export interface Translation {
  ejs: string;
  problems: Problem[];
}

/** How a control structure opens, turns to its else, and closes (after the else, if any). */
interface Head {
  head: string;
  mid: string;
  /** Closes after the else part. */
  tail: string;
  /** Closes when there is no else part, if not `tail`. */
  end?: string;
}

const nl = (span?: Span): string => '\n'.repeat(span?.lines ?? 0);

/** Translates one Go template (`file` names it in markers) whose keys are relative to confd's `prefix`. */
export function translate(source: string, opts: { file: string; prefix?: string; force: boolean }): Translation {
  let nodes: Node[];
  try {
    nodes = parse(source);
  } catch (err) {
    if (err instanceof ParseError) return { ejs: '', problems: [{ line: err.line, message: `template: ${err.message}` }] };
    throw err;
  }
  return new Emitter(opts.file, opts.force).run(nodes, opts.prefix);
}

class Emitter {
  private readonly problems: Problem[] = [];
  private readonly scopes: Array<Set<string>> = [];
  private defs: Defines = collectDefines([]);
  /** The nested blocks whose functions are in scope where the emitter is (JS scopes them to their block). */
  private readonly visible: Array<Set<Define>> = [];
  private seq = 0;
  constructor(
    private readonly file: string,
    private readonly force: boolean,
  ) {}

  run(nodes: Node[], prefix: string | undefined): Translation {
    this.defs = collectDefines(nodes);
    const bind = prefix && prefix !== '/' ? `confd = confd.at(${lit(prefix)}); ` : '';
    this.scopes.push(new Set(['$']));
    const body = this.list(nodes);
    return { ejs: `<% ${bind}const $ = undefined, dot = undefined; %>${body}`, problems: this.problems };
  }

  private list(nodes: Node[]): string {
    this.visible.push(nestedIn(nodes, this.defs));
    try {
      return nodes.map((n) => this.node(n)).join('');
    } finally {
      this.visible.pop();
    }
  }

  private scoped<T>(f: () => T): T {
    this.scopes.push(new Set());
    try {
      return f();
    } finally {
      this.scopes.pop();
    }
  }

  private declare(name: string): string {
    const top = this.scopes[this.scopes.length - 1];
    if (top.has(name)) return `${name} =`;
    top.add(name);
    return `let ${name} =`;
  }

  /** Runs `f`; an untranslatable construct becomes a problem, and with --force a marker plus `fallback`. */
  private guard<T = string>(line: number, f: () => T, fallback: (marker: string) => T): T {
    try {
      return f();
    } catch (err) {
      if (!(err instanceof Untranslatable)) throw err;
      this.problems.push({ line: err.line || line, message: err.message });
      return fallback(this.force ? `<%# ${UNTRANSLATED_MARK} ${this.file}:${err.line || line}: ${err.message.replace(/%>/g, '% >')} %>` : '');
    }
  }

  private node(n: Node): string {
    switch (n.t) {
      case 'text':
        return ejsText(n.text) + (n.dropped > 0 ? `<% ${'\n'.repeat(n.dropped)}%>` : '');
      case 'comment':
        return `<%# ${n.text.replace(/%>/g, '% >')} %>`;
      case 'break':
      case 'continue':
        return `<% ${n.t};${nl(n.span)} %>`;
      case 'action':
        return this.guard(n.span.line, () => this.action(n.pipe, n.span), (m) => `${m}<% ${nl(n.span)}%>`);
      case 'template':
        return this.guard(n.span.line, () => `<% ${this.call(n.name, n.pipe)}${nl(n.span)} %>`, (m) => `${m}<% ${nl(n.span)}%>`);
      case 'define': {
        const id = this.defs.ids.get(n)!;
        const clash = this.defs.clashes.has(n)
          ? this.guard(n.span.line, () => { throw new Untranslatable(n.span.line, `template: multiple definition of template ${JSON.stringify(n.name)} (Go's parser refuses it too)`); }, (m) => m)
          : '';
        const saved = this.scopes.splice(0);
        this.scopes.push(new Set(['$']));
        const body = this.list(n.list);
        this.scopes.splice(0, this.scopes.length, ...saved);
        const head = `<% function ${id}(dot) { const $ = dot;${nl(n.span)} %>`;
        const block = n.pipe ? this.guard(n.span.line, () => ` ${this.call(n.name, n.pipe)}`, (m) => m) : '';
        return `${clash}${head}${body}<% }${block}${nl(n.endSpan)} %>`;
      }
      default:
        return this.control(n, '', '');
    }
  }

  private call(name: string, pipe: Pipe | undefined): string {
    const arg = pipe ? this.expr(pipe) : 'undefined';
    const def = this.defs.winner.get(name);
    if (!def) return `gotpl.noTemplate(${lit(name)});`;
    if (!this.defs.top.has(def) && !this.visible.some((s) => s.has(def))) {
      throw new Untranslatable(0, `template ${JSON.stringify(name)} is a block inside {{if}}, {{with}}, {{range}} or another block, called from outside it: not translated (make it a define at the top level)`);
    }
    return `${this.defs.ids.get(def)!}(${arg});`;
  }

  private action(pipe: Pipe, span: Span): string {
    const e = this.expr(pipe);
    if (pipe.decl.length === 0) return `<%= gotpl.text(${e})${nl(span)} %>`;
    const v = pipe.decl[0];
    if (pipe.assign) {
      this.lookup(v, pipe.line);
      return `<% ${v} = ${e};${nl(span)} %>`;
    }
    return `<% ${this.declare(v)} ${e};${nl(span)} %>`;
  }

  /** An if, with or range; `lead` opens it inside an else, `closers` closes the blocks of the chain around it. */
  private control(n: Control, lead: string, closers: string): string {
    const k = this.seq++;
    return this.scoped(() => {
      const { head, mid, tail, end, marker } = this.guard<Head & { marker?: string }>(
        n.span.line,
        () => this.controlHead(n, k),
        (m) => ({ head: 'if (false) {', mid: '} else {', tail: '}', marker: m }),
      );
      let out = `${marker ?? ''}<% ${lead}${head}${nl(n.span)} %>`;
      out += this.scoped(() => this.list(n.list));
      if (n.elseChain && n.elseList) {
        return out + this.scoped(() => this.control(n.elseList![0] as Control, `${mid} `, `${tail} ${closers}`));
      }
      if (n.elseList) {
        out += `<% ${mid}${nl(n.elseSpan)} %>`;
        out += this.scoped(() => this.list(n.elseList!));
      }
      return `${out}<% ${n.elseList ? tail : (end ?? tail)} ${closers}${nl(n.endSpan)} %>`;
    });
  }

  /** The JS that opens a control structure, and what closes it. */
  private controlHead(n: Control, k: number): Head {
    const e = this.expr(n.pipe);
    const decl = n.pipe.decl;
    const bind = (v: string, value: string): string =>
      n.pipe.assign ? `${this.lookup(v, n.pipe.line)} = ${value};` : `${this.declare(v)} ${value};`;
    if (n.t === 'if') {
      if (decl.length === 0) return { head: `if (gotpl.truth(${e})) {`, mid: '} else {', tail: '}' };
      return { head: `{ ${bind(decl[0], e)} if (gotpl.truth(${decl[0]})) {`, mid: '} else {', tail: '} }' };
    }
    if (n.t === 'with') {
      const v = decl[0] ?? `_w${k}`;
      const b = decl.length ? bind(v, e) : `const ${v} = ${e};`;
      return { head: `{ ${b} if (gotpl.truth(${v})) { const dot = ${v};`, mid: '} else {', tail: '} }' };
    }
    // The body gets a block of its own (`{ {`), so that it may declare again what the loop declared.
    const each = `const _r${k} = gotpl.each(${e});`;
    const mid = `} } if (_r${k}.length === 0) {`;
    if (decl.length === 0) return { head: `{ ${each} for (const [, dot] of _r${k}) { {`, mid, tail: '} }', end: '} } }' };
    const [key, elem] = decl.length === 2 ? decl : [undefined, decl[0]];
    // Each step binds the range variables afresh (declared) or sets outer ones (assigned, Go 1.22's `=`).
    const vars = `${key ? bind(key, `_k${k}`) : ''} ${bind(elem, `_e${k}`)}`;
    return { head: `{ ${each} for (const [_k${k}, _e${k}] of _r${k}) { ${vars} const dot = _e${k}; {`, mid, tail: '} }', end: '} } }' };
  }

  private lookup(name: string, line: number): string {
    if (!this.scopes.some((s) => s.has(name))) throw new Untranslatable(line, `undefined variable "${name}" (Go's parser refuses it too)`);
    return name;
  }

  private expr(pipe: Pipe): string {
    let acc: string | undefined;
    for (const cmd of pipe.cmds) acc = this.command(cmd, acc, pipe.line);
    return acc!;
  }

  private command(args: Arg[], final: string | undefined, line: number): string {
    const [first, ...rest] = args;
    const more = (): string[] => [...rest.map((a) => this.arg(a, line)), ...(final === undefined ? [] : [final])];
    if (first.t === 'ident') return this.func(first.name, more(), first.line, final);
    if (first.t === 'field' && (rest.length > 0 || final !== undefined)) {
      return `gotpl.field(${first.recv ? this.arg(first.recv, line) : 'dot'}, [${first.names.map(lit).join(', ')}], [${more().join(', ')}])`;
    }
    if (rest.length > 0 || final !== undefined) throw new Untranslatable(line, `can't give argument to non-function ${describe(first)} (Go fails here when it runs)`);
    if (first.t === 'nil') throw new Untranslatable(line, 'nil is not a command');
    return this.arg(first, line);
  }

  /** A call; `final` is the value piped into it, which is also the last of `args`. */
  private func(name: string, args: string[], line: number, final?: string): string {
    const wrong = arityError(name, args.length);
    // Go checks the count when the call runs, after the pipeline before it and before its own arguments.
    if (wrong !== undefined) return `gotpl.fail(${lit(wrong)}${final === undefined ? '' : `, ${final}`})`;
    return callee(name, args, line);
  }

  private arg(a: Arg, line: number): string {
    switch (a.t) {
      case 'ident': return this.func(a.name, [], a.line);
      case 'field': return `gotpl.field(${a.recv ? this.arg(a.recv, line) : 'dot'}, [${a.names.map(lit).join(', ')}])`;
      case 'var': return this.lookup(a.name, a.line);
      case 'dot': return 'dot';
      case 'nil': return 'null';
      case 'bool': return String(a.value);
      case 'string': return lit(a.value);
      case 'char': return String(a.value.codePointAt(0) ?? 0);
      case 'number': return number(a.text, a.line);
      case 'pipe':
        if (a.pipe.decl.length > 0) throw new Untranslatable(line, 'a declaration inside parentheses is not translated');
        return `(${this.expr(a.pipe)})`;
    }
  }
}

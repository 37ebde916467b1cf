/**
 * Compiles EJS templates into pure render functions. Config files are not HTML, so `<%= %>` writes values
 * verbatim. Errors, at compile time or at render time, name the template and its line.
 */
import ejs from 'ejs';
import vm from 'node:vm';
import { TemplateError, errorMessage } from '../errors';
import type { Render } from '../target';
import { makeConfd } from './confd';
import { gotpl } from './go/builtins';
import { HELPER_NAMES, makeHelpers } from './helpers';
import { LOOKUPS, Lookups, lookupNeeded } from './lookup';

/** The template names of the sources' inputs (agent/wire.ts): Docker's `containers`. A new kind of source adds its name here. */
export const SOURCE_INPUTS = ['containers'] as const;

// `confd` and `gotpl`: confd's functions and Go's built-ins, for templates translated by `reconfig import confd`.
const LOCALS = ['reconfigdata', 'plugin', ...SOURCE_INPUTS, ...HELPER_NAMES, 'confd', 'gotpl'];

/** What `reconfig import confd --force` writes where it could not translate; such a template is refused. */
export const UNTRANSLATED_MARK = 'reconfig-import: UNTRANSLATED';

function options(filename: string): ejs.Options & { async: false; client: false } {
  return {
    filename,
    async: false,
    client: false,
    strict: true,
    localsName: 'locals',
    destructuredLocals: LOCALS,
    // Verbatim, as EJS itself would stringify it; an object prints as [object Object], visibly wrong in a diff.
    // eslint-disable-next-line @typescript-eslint/no-base-to-string
    escape: (v: unknown) => (v === undefined || v === null ? '' : String(v)),
    compileDebug: true,
  };
}

/** Compiles `text` (read from `filename`); throws TemplateError naming the line of a syntax error. */
export function compileTemplate(filename: string, text: string): Render {
  const marked = text.indexOf(UNTRANSLATED_MARK);
  if (marked >= 0) {
    const line = text.slice(0, marked).split('\n').length;
    const what = text.slice(marked + UNTRANSLATED_MARK.length).split('%>')[0].trim();
    throw new TemplateError(filename, line, `left untranslated by reconfig import confd (${what}): translate it by hand, then remove the marker`);
  }
  let fn: ejs.TemplateFunction;
  try {
    fn = ejs.compile(text, options(filename));
  } catch (err) {
    const detail = errorMessage(err).replace(/ in \S+ while compiling ejs[\s\S]*$/, '').replace(/ while compiling ejs[\s\S]*$/, '');
    throw new TemplateError(filename, syntaxErrorLine(filename, text), detail, { cause: err });
  }
  // confd's function table is built for each render; a template that never names it (nor includes another
  // template, which gets the same locals) is not given one. A native template's render is then about 20 us
  // cheaper, a few per cent of a watched change's whole apply.
  const wantsConfd = /\bconfd\b|\binclude\b/.test(text);
  return (data, extras = {}, scope = []) => {
    // renderTarget gives each render its table of DNS answers (lookup.ts); without one, no name is resolved.
    const given = (extras as { [LOOKUPS]?: Lookups })[LOOKUPS];
    const lookups = given ?? new Lookups();
    try {
      const locals: Record<string, unknown> = { plugin: undefined };
      for (const name of SOURCE_INPUTS) locals[name] = undefined;
      return fn({ ...locals, ...extras, reconfigdata: data, ...makeHelpers(data, scope, lookups), confd: wantsConfd ? makeConfd(data, scope, lookups) : undefined, gotpl });
    } catch (err) {
      // ejs's rethrow prefixes "<file>:<line>\n<context>\n\n" to the message.
      const m = /^[^\n]*:(\d+)\n[\s\S]*?\n\n([\s\S]*)$/.exec(errorMessage(err));
      const line = m ? Number(m[1]) : undefined;
      const needed = lookupNeeded(err);
      if (needed && given) {
        needed.where = { template: filename, line };
        throw needed;
      }
      const detail = needed ? `${needed.question.kind === 'ip' ? 'lookupIP' : 'lookupSRV'} ${JSON.stringify(needed.question.name)}: DNS is resolved only when a target renders` : m ? m[2] : errorMessage(err);
      throw new TemplateError(filename, line, detail, { cause: err });
    }
  };
}

/**
 * ejs reports a syntax error without a line. Recompile its generated source with V8, whose error carries
 * the generated line, and map that back through the `__line = N` markers ejs writes before each template line.
 */
function syntaxErrorLine(filename: string, text: string): number | undefined {
  try {
    // generateSource and source are public in ejs but missing from @types/ejs.
    const tpl = new ejs.Template(text, options(filename)) as unknown as { generateSource(): void; source: string };
    tpl.generateSource();
    const source = tpl.source;
    const code = `(function (locals, escapeFn, include, rethrow) {\n${source}\n})`;
    try {
      new vm.Script(code, { filename: 'ejs-generated' });
      return undefined;
    } catch (err) {
      const m = /ejs-generated:(\d+)/.exec((err as Error).stack ?? '');
      if (!m) return undefined;
      const lines = code.split('\n').slice(0, Number(m[1]));
      for (let i = lines.length - 1; i >= 0; i--) {
        const mark = /__line = (\d+)/g;
        let last: RegExpExecArray | null = null;
        for (let hit = mark.exec(lines[i]); hit; hit = mark.exec(lines[i])) last = hit;
        if (last) return Number(last[1]);
      }
      return 1;
    }
  } catch {
    // The template could not even be parsed into source (e.g. an unclosed tag): no line to give.
    return undefined;
  }
}

/**
 * What the emitter writes for the small things: which function a name calls (Go's built-ins in `gotpl`, confd's
 * in `confd`, and why the rest cannot be translated), string literals that cannot close an EJS tag, text with
 * EJS's delimiters escaped, and Go's number constants.
 */
import { CONFD_FUNCTIONS } from '../../render/confd';
import type { Arg } from './ast';

const GO_BUILTINS = new Set(['and', 'or', 'not', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'len', 'index', 'slice', 'print', 'printf', 'println', 'html', 'js', 'urlquery', 'call']);
const CONFD = new Set(CONFD_FUNCTIONS);

export class Untranslatable extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

/** A JS string literal that cannot close an EJS tag. */
export function lit(s: string): string {
  return JSON.stringify(s).replace(/%>/g, '%\\u003e').replace(/<%/g, '\\u003c%');
}

export function ejsText(s: string): string {
  return s.replace(/<%|%>/g, (m) => (m === '<%' ? '<%%' : '%%>'));
}

/** A call of the template function `name`; throws Untranslatable for a name no one defines. */
export function callee(name: string, args: string[], line: number): string {
  if (name === 'and' || name === 'or') return `gotpl.${name}(${args.map((a) => `() => ${a}`).join(', ')})`;
  if (GO_BUILTINS.has(name)) return `gotpl.${name}(${args.join(', ')})`;
  if (CONFD.has(name)) return `confd.${name}(${args.join(', ')})`;
  throw new Untranslatable(line, `function "${name}" not defined: it is neither one of confd's nor a Go built-in (confd refuses this template too)`);
}

/** A Go number constant: an int (decimal, 0x, 0o, 0b, or 0755 octal) or a float64. */
export function number(text: string, line: number): string {
  const t = text.replace(/_/g, '');
  const neg = t.startsWith('-');
  const u = t.replace(/^[+-]/, '');
  let n: number;
  if (/^0[xX]/.test(u)) n = parseInt(u.slice(2), 16);
  else if (/^0[bB]/.test(u)) n = parseInt(u.slice(2), 2);
  else if (/^0[oO]/.test(u)) n = parseInt(u.slice(2), 8);
  else if (/^0[0-7]+$/.test(u)) n = parseInt(u, 8);
  else if (/[.eE]/.test(u)) return `gotpl.float(${neg ? '-' : ''}${Number(u)})`;
  else if (/^\d+$/.test(u)) n = Number(u);
  else throw new Untranslatable(line, `bad number syntax: ${text}`);
  if (!Number.isSafeInteger(n)) throw new Untranslatable(line, `number ${text} is beyond what reconfig computes exactly (2^53)`);
  return String(neg ? -n : n);
}

export function describe(a: Arg): string {
  switch (a.t) {
    case 'var': return a.name;
    case 'string': return JSON.stringify(a.value);
    case 'field': return `.${a.names.join('.')}`;
    default: return a.t;
  }
}

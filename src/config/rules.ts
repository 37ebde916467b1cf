/**
 * Compiles a target's `values` rules when conf.d is loaded: each glob into a matcher, each JSON Schema into an
 * ajv validator (with ajv-formats' ipv4, ipv6, hostname, uri, ...). A bad glob or schema is a config problem
 * naming the file and the rule's path. ajv is loaded only when some target has rules.
 */
import type AjvType from 'ajv';
import type { ConfigProblem } from '../errors';
import { errorMessage } from '../errors';
import type { ValueRule } from '../render/values';
import type { ValueRuleSpec } from './schema';

/** One ajv per load, so that targets sharing a schema compile it once and nothing outlives a SIGHUP. */
export class RuleCompiler {
  private ajv: AjvType | undefined;
  private readonly compiled = new Map<string, (value: unknown) => string | undefined>();

  /** The rules of one target; problems go to `problems` (named by `file`), and bad rules are left out. */
  compile(specs: readonly ValueRuleSpec[], key: string | undefined, file: string, problems: ConfigProblem[]): ValueRule[] {
    const rules: ValueRule[] = [];
    specs.forEach((spec, index) => {
      const where = `/values/${index}`;
      let matches: (k: string) => boolean = () => true;
      if (spec.keys !== undefined) {
        try {
          const re = globToRegExp(absoluteGlob(spec.keys, key));
          matches = (k) => re.test(k);
        } catch (err) {
          problems.push({ file, message: `${where}/keys: ${JSON.stringify(spec.keys)} ${errorMessage(err)}` });
          return;
        }
      }
      let validate: ValueRule['validate'];
      try {
        validate = this.validator(spec.schema);
      } catch (err) {
        problems.push({ file, message: `${where}/schema: ${errorMessage(err)}` });
        return;
      }
      rules.push({ index, keys: spec.keys, matches, json: spec.json, validate });
    });
    return rules;
  }

  private validator(schema: ValueRuleSpec['schema']): ValueRule['validate'] {
    const text = JSON.stringify(schema);
    let v = this.compiled.get(text);
    if (!v) {
      const ajv = (this.ajv ??= makeAjv());
      const fn = ajv.compile(schema);
      v = (value) => (fn(value) ? undefined : ajv.errorsText(fn.errors, { dataVar: 'value' }));
      this.compiled.set(text, v);
    }
    return v;
  }
}

function makeAjv(): AjvType {
  // Loaded here rather than at the top: the watch path of a conf.d without rules never pays for ajv's compiler.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const Ajv = (require('ajv') as typeof import('ajv')).default;
  const addFormats = (require('ajv-formats') as typeof import('ajv-formats')).default;
  /* eslint-enable @typescript-eslint/no-require-imports */
  // Unknown keywords are errors (a typo must not turn a rule off); type hints are not demanded of users.
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictTuples: false, logger: false });
  addFormats(ajv);
  return ajv;
}

/** A glob not beginning with / is relative to the target's key. */
function absoluteGlob(glob: string, key: string | undefined): string {
  if (glob.startsWith('/')) return glob;
  if (key === undefined) throw new Error('a relative glob needs the target to have a key');
  return `${key === '/' ? '' : key}/${glob}`;
}

/**
 * `*` matches within one path segment, `?` one character of it, and a whole segment `**` any number of
 * segments (at the end: one or more, i.e. everything below). Everything else is literal.
 */
export function globToRegExp(glob: string): RegExp {
  if (glob.length > 1 && glob.endsWith('/')) throw new Error('must not end with /');
  const segments = glob.slice(1).split('/');
  let re = '^';
  segments.forEach((seg, i) => {
    if (seg === '' && glob !== '/') throw new Error('has an empty path segment');
    if (seg === '**') {
      re += i === segments.length - 1 ? '(?:/[^/]+)+' : '(?:/[^/]+)*';
      return;
    }
    if (seg.includes('**')) throw new Error('has ** inside a path segment (it must be a whole segment, as in /a/**/b)');
    re += '/' + seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  });
  return new RegExp(re + '$');
}

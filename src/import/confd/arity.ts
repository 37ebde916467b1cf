/**
 * How many arguments each template function takes, as Go's text/template checks them (exec.go's evalCall):
 * a fixed count, or at least one for a variadic function. A call with another count fails when it runs, before
 * its arguments are evaluated, with Go's words; a call that never runs (in a branch not taken) does not fail.
 */

/** `[n]`: exactly n; `[n, true]`: at least n. */
type Arity = readonly [number, boolean?];

const ARITY: Readonly<Record<string, Arity>> = {
  // Go's built-ins (text/template/funcs.go).
  and: [1, true], or: [1, true], not: [1], eq: [1, true], ne: [2], lt: [2], le: [2], gt: [2], ge: [2],
  len: [1], index: [1, true], slice: [1, true], print: [0, true], printf: [1, true], println: [0, true],
  html: [0, true], js: [0, true], urlquery: [0, true], call: [1, true],
  // confd's store (memkv's FuncMap).
  exists: [1], ls: [1], lsdir: [1], get: [1], gets: [1], getv: [1, true], getvs: [1],
  // confd's own (resource/template/template_funcs.go).
  base: [1], split: [2], json: [1], jsonArray: [1], dir: [1], map: [0, true], getenv: [1, true], join: [2],
  datetime: [0], toUpper: [1], toLower: [1], contains: [2], replace: [4], trimSuffix: [2], lookupIP: [1],
  lookupIPV4: [1], lookupIPV6: [1], lookupSRV: [3], fileExists: [1], base64Encode: [1], base64Decode: [1],
  parseBool: [1], reverse: [1], sortByLength: [1], sortKVByLength: [1], add: [2], sub: [2], div: [2], mod: [2],
  mul: [2], seq: [2], atoi: [1],
};

/** Go's error for `name` called with `got` arguments, or undefined when the count is right (or `name` unknown). */
export function arityError(name: string, got: number): string | undefined {
  const a = ARITY[name];
  if (!a) return undefined;
  const [want, variadic] = a;
  if (variadic ? got >= want : got === want) return undefined;
  return `wrong number of args for ${name}: want ${variadic ? 'at least ' : ''}${want} got ${got}`;
}

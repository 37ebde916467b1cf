/**
 * Values are data, not config. Before a target renders, every key and value it holds is checked: a control
 * character (a line break, CR, NUL, an escape sequence...) would let whoever writes a key add lines or
 * directives to the file, so it is refused unless the target allows `multiline` values; and the target's
 * `values` rules (config/rules.ts) say what a well-formed value looks like. Checks run as keys arrive, so a
 * render of many keys does not re-check the ones that did not change.
 */

import { HoldError, TargetError, ValueError } from '../errors';
import type { ValueCheck, ValueProblem } from '../target';

export type { ValueCheck, ValueProblem } from '../target';

/** A compiled `values` rule. */
export interface ValueRule {
  /** Its place in the target's `values`, for messages. */
  index: number;
  /** The glob as written (or undefined: every key). */
  keys?: string;
  matches(key: string): boolean;
  json: boolean;
  /** Undefined when `value` satisfies the schema, else ajv's message. */
  validate(value: unknown): string | undefined;
}

// C0 controls but tab, DEL, and the C1 controls: Unicode's Cc category less U+0009.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;

/** The first control character in `text` (tab allowed) as `U+000A at position 13` (from 1), or undefined. */
export function findControl(text: string): string | undefined {
  const m = CONTROL.exec(text);
  if (!m) return undefined;
  const code = m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
  return `U+${code} (${CONTROL_NAMES[m[0]] ?? 'control character'}) at position ${m.index + 1} of ${text.length}`;
}

const CONTROL_NAMES: Record<string, string> = {
  '\0': 'NUL',
  '\n': 'line feed',
  '\r': 'carriage return',
  '\u001b': 'escape',
  '\u000b': 'vertical tab',
  '\u000c': 'form feed',
  '\u0008': 'backspace',
  '\u007f': 'delete',
};

/**
 * The check for a target. A key with a control character is always refused (no config wants one in a name);
 * a value with one only without `multiline`. Values are never quoted in messages: they may be secrets.
 */
export function valueCheck(multiline: boolean, rules: readonly ValueRule[]): ValueCheck {
  return (key, value) => {
    const inKey = findControl(key);
    if (inKey) return { key, kind: 'control', message: `the key holds a control character, ${inKey}` };
    if (!multiline) {
      const inValue = findControl(value);
      if (inValue) {
        return {
          key,
          kind: 'control',
          message: `the value holds a control character, ${inValue}; refused (a target that wants multi-line values says "multiline": true)`,
        };
      }
    }
    for (const rule of rules) {
      if (!rule.matches(key)) continue;
      const broken = breaks(rule, value);
      if (broken) {
        const which = `values[${rule.index}]${rule.keys === undefined ? '' : ` (keys ${JSON.stringify(rule.keys)})`}`;
        return { key, kind: 'rule', message: `the value breaks ${which}: ${broken}` };
      }
    }
    return undefined;
  };
}

function breaks(rule: ValueRule, value: string): string | undefined {
  if (!rule.json) return rule.validate(value);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    // Not JSON.parse's message: V8 quotes the start of the text, and a value may be a secret.
    return 'the value is not JSON';
  }
  return rule.validate(parsed);
}

/** The message a problem is reported with: `key /a/b: ...`. */
function describeProblem(p: ValueProblem): string {
  return `key ${CONTROL.test(p.key) ? JSON.stringify(p.key) : p.key}: ${p.message}`;
}

/**
 * Throws when the target holds a refused key: a control character fails the render (stage "render"), a broken
 * rule holds the target (stage "hold", like minkeys). Either way the file keeps its bytes.
 */
export function assertValues(targetId: string, data: { problem(): ValueProblem | undefined; readonly refused: number }): void {
  const p = data.problem();
  if (!p) return;
  const more = data.refused > 1 ? ` (${data.refused - 1} more key(s) refused too)` : '';
  if (p.kind === 'rule') throw new TargetError(targetId, 'hold', new HoldError(`${describeProblem(p)}${more}; left untouched`));
  throw new TargetError(targetId, 'render', new ValueError(`${describeProblem(p)}${more}`));
}

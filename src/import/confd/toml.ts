/**
 * Reading confd's TOML files: parsed with smol-toml, and the line of a key found again in the text, since
 * the parser gives values without positions and every problem must name its line.
 */
import { parse, TomlError } from 'smol-toml';

export type TomlTable = Record<string, unknown>;

/** A problem in an imported file: `file:line: message`. */
export interface FileProblem {
  file: string;
  line: number;
  message: string;
}

export function formatProblem(p: FileProblem): string {
  return `${p.file}:${p.line}: ${p.message}`;
}

/** Parses `text`; a syntax error becomes a problem at its line and the result is undefined. */
export function readToml(file: string, text: string, problems: FileProblem[]): TomlTable | undefined {
  try {
    return parse(text);
  } catch (err) {
    if (err instanceof TomlError) {
      problems.push({ file, line: err.line, message: `not valid TOML: ${err.message.split('\n')[0]}` });
      return undefined;
    }
    throw err;
  }
}

/** The line where `key = ...` is written (within `[table]` when given), else the table's line, else 1. */
export function lineOf(text: string, key: string, table?: string): number {
  const lines = text.split('\n');
  let inTable = table === undefined;
  let tableLine = 1;
  const esc = key.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
  const keyRe = new RegExp(`^\\s*(?:${esc}|"${esc}"|'${esc}')\\s*=`);
  for (let i = 0; i < lines.length; i++) {
    const header = /^\s*\[([^\]]+)\]\s*(#.*)?$/.exec(lines[i]);
    if (header) {
      inTable = table !== undefined && header[1].trim() === table;
      if (inTable) tableLine = i + 1;
      continue;
    }
    if (inTable && keyRe.test(lines[i])) return i + 1;
  }
  return tableLine;
}

/**
 * reconfig's command line as commander defines it, for the flags table (flags-table.ts) and the man page
 * (man-page.ts). The built CLI (dist/src/cli.js) builds its program and parses process.argv as soon as it loads;
 * here it is loaded once with Command.prototype.parse replaced by a function that keeps the program and parses
 * nothing, so no mode runs and nothing exits. What comes out is read from commander's own Option objects, the
 * ones `--help` prints.
 */
import path from 'node:path';
import type { Command, Option } from 'commander';
import { ROOT } from './doc-markers';

export const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');

/** One flag, as the tables and the man page show it. */
export interface Flag {
  /** As written: `-c, --cfgdir <dir>`. */
  flags: string;
  long: string | undefined;
  /** The RECONFIG_* variable that sets it, if any. */
  env: string | undefined;
  /** A boolean flag's variable takes true/false (1/0, yes/no, on/off). */
  boolean: boolean;
  /** The default as commander prints it (JSON), or undefined. */
  default: string | undefined;
  choices: readonly string[] | undefined;
  /** The help text, without the "(env: ...)" that cli.ts appends to a boolean's. */
  description: string;
}

export interface CommandModel {
  /** `reconfig`, `reconfig validate`, ... */
  name: string;
  usage: string;
  description: string;
  args: Array<{ name: string; description: string; required: boolean }>;
  flags: Flag[];
  /** The "Example(s):" text cli.ts adds after the help, as printed. */
  after: string;
}

export interface CliModel {
  program: CommandModel;
  commands: CommandModel[];
}

// A boolean's variable is part of its description (see opt() in src/cli.ts): commander would set it from any value.
const BOOLEAN_ENV = / \(env: (RECONFIG_[A-Z0-9_]+)=true\|false\)$/;

function flag(o: Option): Flag {
  const m = BOOLEAN_ENV.exec(o.description);
  const dflt = o.defaultValueDescription ?? (o.defaultValue === undefined ? undefined : JSON.stringify(o.defaultValue));
  return {
    flags: o.flags,
    long: o.long,
    env: m ? m[1] : o.envVar,
    boolean: o.isBoolean(),
    default: dflt,
    choices: o.argChoices,
    description: m ? o.description.slice(0, m.index) : o.description,
  };
}

/** The text cli.ts added with addHelpText('after', ...): the help with commander's own part cut off. */
function afterText(cmd: Command): string {
  let out = '';
  const write = (s: string): boolean => ((out += s), true);
  cmd.configureOutput({ writeOut: write, writeErr: write });
  cmd.outputHelp();
  const own = cmd.helpInformation();
  return out.startsWith(own) ? out.slice(own.length).trim() : '';
}

function model(cmd: Command, parentName?: string): CommandModel {
  const help = cmd.createHelp();
  const name = parentName ? `${parentName} ${cmd.name()}` : cmd.name();
  return {
    name,
    usage: help.commandUsage(cmd),
    description: cmd.description(),
    args: cmd.registeredArguments.map((a) => ({ name: a.name(), description: a.description, required: a.required })),
    flags: help.visibleOptions(cmd).map(flag),
    after: afterText(cmd),
  };
}

let cached: CliModel | undefined;

/** commander's definitions of the program and its commands, read from dist/src/cli.js (build first). */
export function cliModel(): CliModel {
  if (cached) return cached;
  // The same module instance as the CLI's own require('commander').
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const commander = require('commander') as typeof import('commander');
  const parse = Object.getOwnPropertyDescriptor(commander.Command.prototype, 'parse');
  const built: Command[] = [];
  Object.defineProperty(commander.Command.prototype, 'parse', {
    configurable: true,
    writable: true,
    value(this: Command): Command {
      built.push(this);
      return this;
    },
  });
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(CLI);
  } finally {
    if (parse) Object.defineProperty(commander.Command.prototype, 'parse', parse);
  }
  const root = built[0];
  if (built.length !== 1) throw new Error(`${CLI} parsed ${built.length} commander programs; expected its one program`);
  // A command that only groups others (`import`, for `import confd`) stands for them: each is listed by its path.
  const leaves = (c: Command, parent: string): CommandModel[] =>
    c.commands.length > 0 ? c.commands.flatMap((sub) => leaves(sub, `${parent} ${c.name()}`)) : [model(c, parent)];
  cached = { program: model(root), commands: root.commands.flatMap((c) => leaves(c, root.name())) };
  return cached;
}

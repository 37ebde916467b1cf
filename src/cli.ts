#!/usr/bin/env node
/** Commander wiring only: flags -> one checked Plan (flags.ts) -> main(). */
import { constants } from 'node:os';
import type { Command as CommandType, Option as OptionType } from 'commander';
import { ExitCode, UsageError } from './errors';
import { PASSWORD_ENV } from './etcd/env';
import type { ConfigFlags, FleetFlags, Plan, RunFlags } from './flags';
import { version } from './version';

/**
 * flags.ts and main.ts load only once a mode runs: --version and --help stay as quick as Node's own start. A
 * flag that flags.ts refuses is printed like commander's own, as a plain line, exit 2.
 */
function run(plan: () => Plan): void {
  let checked: Plan;
  try {
    checked = plan();
  } catch (err) {
    if (err instanceof UsageError) exitEarly(err.exitCode, err.message);
    throw err;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  void (require('./main') as typeof import('./main')).main(checked);
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const flags = (): typeof import('./flags') => require('./flags') as typeof import('./flags');

/** Exits before main runs: 0 after --help or --version, 2 for bad flags (with the message). */
function exitEarly(code: number, message?: string, out?: string): never {
  if (message) process.stderr.write(`reconfig: ${message}\n`);
  if (out) process.stdout.write(out);
  process.exit(code);
}

// `reconfig --version` alone answers before commander loads: inventories and health checks run it on every host.
if (process.argv.length === 3 && process.argv[2] === '--version') exitEarly(ExitCode.ok, undefined, `${version}\n`);

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Command, CommanderError, InvalidArgumentError, Option } = require('commander') as typeof import('commander');
type Command = CommandType;
type Option = OptionType;

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a port number (1-65535)');
  return n;
}

function signal(value: string): NodeJS.Signals {
  const name = (value.startsWith('SIG') ? value : `SIG${value}`).toUpperCase();
  if (!(name in constants.signals)) throw new InvalidArgumentError(`not a signal: ${value}`);
  return name as NodeJS.Signals;
}

function revisionArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a revision (a whole number, 1 or more)');
  return n;
}

function versionArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a version number from `reconfig history` (1 or more)');
  return n;
}

function prefix(value: string): string {
  if (!value.startsWith('/')) throw new InvalidArgumentError('must begin with /');
  return value;
}

/** Every flag can also come from RECONFIG_<FLAG> (e.g. --ssl_cafile: RECONFIG_SSL_CAFILE); the command line wins. */
export function envName(long: string): string {
  return `RECONFIG_${long.replace(/^--/, '').replace(/-/g, '_').toUpperCase()}`;
}

function opt(flags: string, description: string, more: { default?: unknown; parse?: (v: string) => unknown } = {}): Option {
  const o = new Option(flags, description);
  const long = o.long ?? flags;
  // commander turns a boolean on whenever its variable is set, even to "false": booleansFromEnv reads those,
  // and the help names the variable all the same.
  if (!o.isBoolean()) o.env(envName(long));
  else o.description = `${description} (env: ${envName(long)}=true|false)`;
  if (more.default !== undefined) o.default(more.default);
  if (more.parse) o.argParser(more.parse);
  return o;
}

const BOOLEAN_ENV = /^(1|true|yes|on)$|^(0|false|no|off|)$/i;

/** Boolean flags from the environment: 1/true/yes/on or 0/false/no/off; anything else names the variable. */
function booleansFromEnv(cmd: Command): void {
  for (const o of cmd.options) {
    if (!o.isBoolean() || !o.long || o.long === '--version' || o.long === '--help') continue;
    const name = envName(o.long);
    const value = process.env[name];
    const key = o.attributeName();
    if (value === undefined || cmd.getOptionValueSource(key) === 'cli') continue;
    const m = BOOLEAN_ENV.exec(value.trim());
    if (!m) throw new InvalidArgumentError(`${name}=${JSON.stringify(value)}: must be 1/true/yes/on or 0/false/no/off`);
    cmd.setOptionValueWithSource(key, m[1] !== undefined, 'env');
  }
}

/** Where the configuration is, and the key prefix: the default run and every command take them. */
const cfgdirOption = (): Option => opt('-c, --cfgdir <dir>', 'configuration directory holding conf.d/ and templates/', { default: '/etc/reconfig' });
const prefixOption = (): Option => opt('-p, --prefix <prefix>', 'prepended to every key', { default: '', parse: prefix });
const stateDirOption = (): Option =>
  opt('--state-dir <dir>', 'where targets with "history" keep their applied versions (0700)', { default: '/var/lib/reconfig' });
const allowEmptyOption = (): Option => opt('--allow-empty', 'no target at all is not an error (by default it is: exit 2, naming the files ignored)');

/** How to reach etcd: the default run and `fleet` take them. */
const connectionOptions = (): Option[] => [
  opt('--host <host>', 'etcd host', { default: '127.0.0.1' }),
  opt('--port <port>', 'etcd client port', { default: 2379, parse: port }),
  opt('--endpoints <urls>', 'etcd members, comma-separated (https://10.0.0.1:2379,...); overrides --host and --port'),
  opt('--srv <name>', 'find etcd through DNS SRV: a domain (_etcd-client[-ssl]._tcp.<domain>) or a full record name'),
  opt('--dns <host[:port],...>', 'nameserver(s) for --srv, tried in order (default: those in /etc/resolv.conf)'),
  opt('-s, --ssl', 'talk to etcd over TLS (https)'),
  opt('--ssl_cafile <pem>', 'CA certificate(s) that signed the etcd servers (default: the system CAs)'),
  opt('--ssl_cert <pem>', 'client certificate'),
  opt('--ssl_key <pem>', 'client private key; may be encrypted (see --ssl_passphrase)'),
  opt('--ssl_passphrase <pass>', 'passphrase of an encrypted --ssl_key (prefer RECONFIG_SSL_PASSPHRASE: ps shows argv)'),
  opt('--user <name[:password]>', `etcd user; the password may come from ${PASSWORD_ENV} instead, out of ps`),
  opt('--etcd-timeout <duration>', 'how long to wait for etcd: the whole of a one-shot read (--onetime, fleet), and each read of the agent', { default: '2.5s' }),
];

const program = new Command()
  .name('reconfig')
  .usage('[options] [-- program [args...]]   |   validate [options]   |   render <target-id> --data <file> [options]   |   fleet [options]   |   history <target-id>   |   rollback <target-id>   |   import confd [options]')
  .description('Keeps configuration files in step with etcd: renders EJS templates, checks, swaps atomically, reloads.')
  .version(version, '--version')
  // A subcommand's own -c/-p come after its name: `reconfig validate -c dir`.
  .enablePositionalOptions()
  .addOption(cfgdirOption());
for (const o of connectionOptions()) program.addOption(o);
program
  .addOption(prefixOption())
  .addOption(allowEmptyOption())
  .addOption(stateDirOption())
  .addOption(opt('-o, --onetime', 'apply every target once, print a summary and exit', { default: false }))
  .addOption(opt('-n, --notreally', 'print diffs instead of writing; run no commands', { default: false }))
  .addOption(opt('-d, --debug', 'log at debug level (the same as --log-level debug)', { default: false }))
  .addOption(opt('--log-level <level>', 'log this level and above: debug, info, warn or error (as confd\'s -log-level)', { default: 'info' }).choices(['debug', 'info', 'warn', 'error']))
  .addOption(opt('--resync <duration>', 're-read everything and re-render this often, jittered by ±10% per agent ("0": never; a reconnect resumes the watch instead)', { default: '1h' }))
  .addOption(opt('--log-format <format>', 'json, or pretty for people (default: pretty on a terminal, else json)').choices(['json', 'pretty']))
  .addOption(opt('--listen <host:port>', 'serve /metrics and /healthz here (e.g. 127.0.0.1:9100); off by default'))
  .addOption(opt('--reload-signal <signal>', 'sidecar mode: the signal sent to the program after a change', { default: 'SIGHUP', parse: signal }))
  .addOption(opt('--report <prefix>', 'keep a fleet report in etcd at <prefix>/<name>, on a 30 s lease (see `reconfig fleet`)', { parse: prefix }))
  .addOption(opt('--report-name <name>', 'this agent\'s name in the fleet report (default: the hostname)'))
  .addOption(opt('--wave <n>', 'this agent\'s rollout wave (0: the canaries, the default); a target with `rollout` waits for wave n-1 to prove a change (needs --report)'))
  .exitOverride()
  // Errors are printed once, by exitEarly, with the program's name.
  .configureOutput({ outputError: () => undefined })
  .addHelpText(
    'after',
    `
Examples:
  reconfig -c /etc/reconfig                       watch and apply (systemd)
  reconfig -c /etc/reconfig --onetime             apply once; exit 0 only if every target succeeded
  reconfig -c /etc/reconfig --onetime --notreally print the diffs a run would make
  RECONFIG_ETCD_PASSWORD=... reconfig --ssl --srv example.com --user reconfig \\
      --ssl_cafile ca.pem --ssl_cert client.pem --ssl_key client.key
                                                  TLS, password auth, members from DNS SRV
  reconfig -c /etc/reconfig -- haproxy -W -f /etc/haproxy/haproxy.cfg
                                                  sidecar: render, start haproxy, SIGHUP it on change

Every flag can also be set as RECONFIG_<FLAG> (RECONFIG_ENDPOINTS, RECONFIG_SSL_CAFILE, ...); the command line
wins. Targets and templates may come from RECONFIG_TARGET_<name> and RECONFIG_TEMPLATE_<name>.`,
  );

function configOptions(cmd: Command): Command {
  return cmd.addOption(cfgdirOption()).addOption(prefixOption());
}

/**
 * A command's options, with those it shares with the program taken from before the command's name when the
 * command was not given them itself (`reconfig -c . render ...`, `reconfig --port 2379 fleet ...`): the
 * command's own, from its flags or variables, win.
 */
function withInherited<T extends object>(cmd: Command, own: T): T {
  const merged: Record<string, unknown> = { ...(own as Record<string, unknown>) };
  const global = program.opts<Record<string, unknown>>();
  for (const [k, v] of Object.entries(global)) {
    const ownSource = cmd.getOptionValueSource(k);
    if (ownSource === undefined || (ownSource === 'default' && program.getOptionValueSource(k) !== 'default')) merged[k] = v;
  }
  return merged as T;
}

configOptions(
  program
    .command('validate')
    .description('load every target and compile every template, with no etcd; exit 0 when all is well, 2 otherwise')
    .addOption(allowEmptyOption())
    .addHelpText('after', '\nExample:\n  reconfig validate -c /etc/reconfig      (a pre-commit hook or a CI step for a config repository)\n'),
).action(function (this: Command, o: ConfigFlags) {
  booleansFromEnv(this);
  run(() => flags().validatePlan(withInherited(this, { ...o, ...this.opts<ConfigFlags>() })));
});

configOptions(
  program
    .command('render')
    .description('render one target to stdout from a data file of keys and values (JSON or YAML), with no etcd')
    .argument('<target-id>', 'the id of the target to render')
    .requiredOption('--data <file>', 'a JSON or YAML object of keys and values, e.g. {"/services/web/web1": "10.0.0.1:80"}')
    .addHelpText('after', '\nExample:\n  reconfig render haproxy --data backends.yaml -c /etc/reconfig > /tmp/haproxy.cfg\n'),
).action(function (this: Command, id: string, o: { cfgdir: string; prefix: string; data: string }) {
  run(() => flags().renderPlan(id, withInherited(this, o)));
});

configOptions(
  program
    .command('history')
    .description('list the versions a target with "history" kept (newest first), or with --diff N the diff from version N to the live files')
    .argument('<target-id>', 'the id of the target')
    .addOption(stateDirOption())
    .addOption(opt('--diff <n>', 'print the diff between version n and the live files', { parse: versionArg }))
    .addHelpText('after', '\nExamples:\n  reconfig history haproxy\n  reconfig history haproxy --diff 4        what changed since version 4\n'),
).action(function (this: Command, id: string) {
  run(() => flags().historyPlan(id, withInherited(this, this.opts<ConfigFlags & { diff?: number }>())));
});

configOptions(
  program
    .command('rollback')
    .description('put a kept version back (check, swap, reload, verify) and hold the target there until its data changes')
    .argument('<target-id>', 'the id of the target')
    .addOption(stateDirOption())
    .addOption(opt('--to <n>', 'the version to put back (default: the one before the live one)', { parse: versionArg }))
    .addOption(opt('-d, --debug', 'log at debug level', { default: false }))
    .addOption(opt('--log-format <format>', 'json, or pretty for people (default: pretty on a terminal, else json)').choices(['json', 'pretty']))
    .addHelpText('after', '\nExample:\n  reconfig rollback haproxy --to 4\n'),
).action(function (this: Command, id: string) {
  booleansFromEnv(this);
  run(() => flags().rollbackPlan(id, withInherited(this, this.opts<ConfigFlags & { to?: number; debug?: boolean; logFormat?: RunFlags['logFormat'] }>())));
});

const importCmd = program.command('import').description('bring another tool\'s configuration over: `reconfig import confd`');
// `reconfig import` alone is a mistake, not a request for help: exit 2, as for any command missing its argument.
importCmd.action(() => exitEarly(ExitCode.config, 'say what to import: `reconfig import confd` (see reconfig import --help)'));
importCmd
  .command('confd')
  .description("turn confd's template resources (conf.d/*.toml) and Go templates into targets and EJS templates")
  .addOption(opt('--confdir <dir>', "confd's directory: conf.d/, templates/ and confd.toml", { default: '/etc/confd' }))
  .addOption(opt('--out <dir>', "reconfig's configuration directory to write (conf.d/, templates/)", { default: '/etc/reconfig' }))
  .addOption(opt('--dry-run', 'print what would be written; write nothing'))
  .addOption(opt('--force', 'write despite problems, marking each untranslated place (validate refuses them until fixed), and over existing files'))
  .addHelpText('after', '\nExample:\n  reconfig import confd --confdir /etc/confd --out /etc/reconfig --dry-run\n')
  .action(function (this: Command) {
    booleansFromEnv(this);
    run(() => flags().importPlan(this.opts<{ confdir: string; out: string; dryRun?: boolean; force?: boolean }>()));
  });

const fleet = program
  .command('fleet')
  .description(
    'show the fleet report that agents keep with --report; with --wait-revision, wait until every host has taken a revision; promote, halt and resume steer the rollouts (--wave)',
  )
  .argument('[action]', 'promote (every wave may apply --revision now), halt (waves 1 and up apply nothing; wins over a promote) or resume (lifts the halt)')
  .addOption(opt('--report <prefix>', 'the prefix the agents report under', { parse: prefix }))
  .addOption(opt('--revision <revision>', 'with promote: the revision every wave may apply now', { parse: revisionArg }))
  .addOption(opt('--json', 'print the reports as JSON'))
  .addOption(opt('--wait-revision <revision>', 'exit 0 once every host reports this revision or later on every target, else 1 at --timeout', { parse: revisionArg }))
  .addOption(opt('--timeout <duration>', 'how long --wait-revision waits', { default: '60s' }))
  .addOption(opt('--target <id...>', 'only these targets count for --wait-revision; promote, halt and resume act on these (default: every target with a rollout)'))
  .addHelpText(
    'after',
    '\nExamples:\n  rev=$(etcdctl put /services/web/backends/web9 10.0.0.9:80 -w json | jq .header.revision)\n  reconfig fleet --report /reconfig/fleet --wait-revision "$rev" --timeout 60s\n  reconfig fleet halt --report /reconfig/fleet --target haproxy\n  reconfig fleet promote --report /reconfig/fleet --revision "$rev"\n',
  );
for (const o of connectionOptions()) fleet.addOption(o);
fleet.action(function (this: Command, action: string | undefined) {
  booleansFromEnv(this);
  // commander gives untyped values; the options defined above make them FleetFlags.
  const f = withInherited(this, this.opts() as unknown as FleetFlags);
  run(() => (action === undefined ? flags().fleetPlan(f) : flags().fleetControlPlan(action, f)));
});

// Sidecar mode: everything after the first `--` is the program, never parsed as reconfig's own arguments.
const dashes = process.argv.indexOf('--', 2);
const programArgv = dashes >= 0 ? process.argv.slice(dashes + 1) : [];
if (dashes >= 0 && programArgv.length === 0) exitEarly(ExitCode.config, 'nothing after --: give the program to run');

program.action(() => {
  // Dependencies' deprecation notices (gRPC sets a TLS server name to an IP address) mean nothing to an operator.
  process.noDeprecation = true;
  booleansFromEnv(program);
  run(() => flags().runPlan({ ...program.opts<Omit<RunFlags, 'program'>>(), program: programArgv }));
});

try {
  program.parse(dashes >= 0 ? process.argv.slice(0, dashes) : process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
      exitEarly(ExitCode.ok);
    }
    // The default run takes no arguments: a word that is not an option was meant as a command (`reconfig valdate`).
    const word = program.args.find((a) => !a.startsWith('-'));
    if (err.code === 'commander.excessArguments' && word !== undefined && program.args[0] === word) {
      const parent = program.commands.find((c) => c.name() === word);
      const sub = parent && program.args.slice(1).find((a) => !a.startsWith('-'));
      if (parent && sub !== undefined) {
        // `reconfig import bogus`: a command of commands, given one it does not have; `reconfig validate x`.
        const names = parent.commands.map((c) => c.name()).filter((n) => n !== 'help');
        exitEarly(
          ExitCode.config,
          names.length > 0
            ? `unknown command ${JSON.stringify(`${word} ${sub}`)} (the commands: ${names.map((n) => `${word} ${n}`).join(', ')}; see reconfig ${word} --help)`
            : `reconfig ${word} takes no argument ${JSON.stringify(sub)} (see reconfig ${word} --help)`,
        );
      }
      const names = program.commands.map((c) => c.name());
      exitEarly(ExitCode.config, `unknown command ${JSON.stringify(word)} (the commands: ${names.join(', ')}; see reconfig --help)`);
    }
    exitEarly(ExitCode.config, err.message.replace(/^error: /, ''));
  }
  throw err;
}

#!/usr/bin/env node
/** Commander wiring only: flags -> Options -> run(). */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ExitCode } from './errors';
import { exitEarly, run, type Options } from './main';
import { PASSWORD_ENV } from './etcd/settings';

// Read at run time rather than imported, so the build layout stays src/ -> dist/src/.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require('../../package.json') as { version: string };

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a port number (1-65535)');
  return n;
}

function prefix(value: string): string {
  if (!value.startsWith('/')) throw new InvalidArgumentError('must begin with /');
  return value;
}

const program = new Command()
  .name('reconfig')
  .description('Keeps configuration files in step with etcd: renders EJS templates, checks, swaps atomically, reloads.')
  .version(version, '--version')
  .option('-c, --cfgdir <dir>', 'configuration directory holding conf.d/ and templates/', '/etc/reconfig')
  .option('--host <host>', 'etcd host', '127.0.0.1')
  .addOption(new Option('--port <port>', 'etcd client port').default(2379).argParser(port))
  .option('--endpoints <urls>', 'etcd members, comma-separated (https://10.0.0.1:2379,...); overrides --host and --port')
  .option('--srv <name>', 'find etcd through DNS SRV: a domain (_etcd-client[-ssl]._tcp.<domain>) or a full record name')
  .option('--dns <host[:port]>', 'nameserver for --srv (default: those in /etc/resolv.conf)')
  .option('-s, --ssl', 'talk to etcd over TLS (https)')
  .option('--ssl_cafile <pem>', 'CA certificate(s) that signed the etcd servers (default: the system CAs)')
  .option('--ssl_cert <pem>', 'client certificate')
  .option('--ssl_key <pem>', 'client private key; may be encrypted (see --ssl_passphrase)')
  .addOption(new Option('--ssl_passphrase <pass>', 'passphrase of an encrypted --ssl_key').env('RECONFIG_SSL_PASSPHRASE'))
  .option('--user <name[:password]>', `etcd user; the password may come from ${PASSWORD_ENV} instead, out of ps`)
  .addOption(new Option('-p, --prefix <prefix>', 'prepended to every key').default('').argParser(prefix))
  .option('-o, --onetime', 'apply every target once, print a summary and exit', false)
  .option('-n, --notreally', 'print diffs instead of writing; run no commands', false)
  .option('-d, --debug', 'log at debug level', false)
  .option('--resync <duration>', 're-read everything and re-render this often, as well as on every reconnect ("0": never)', '1h')
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
  RECONFIG_ETCD_PASSWORD=... reconfig --ssl --srv example.com --ssl_cafile ca.pem \
      --ssl_cert client.pem --ssl_key client.key --user reconfig
                                                  TLS, password auth, members from DNS SRV`,
  );

try {
  program.parse();
} catch (err) {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
      exitEarly(ExitCode.ok);
    }
    exitEarly(ExitCode.config, err.message.replace(/^error: /, ''));
  }
  throw err;
}

// Dependencies' deprecation notices (gRPC sets a TLS server name to an IP address) mean nothing to an operator.
process.noDeprecation = true;
void run(program.opts<Options>());

/**
 * The burst scenario's floor: a bare etcd3 watcher in its own process, doing nothing with the events. Prints
 * "ready", then, after `count` events, the CPU seconds it spent receiving them. Usage: <url> <prefix> <count>
 */
import { readFileSync } from 'node:fs';
import { Etcd3 } from 'etcd3';

function cpuSeconds(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function main(): Promise<void> {
  const [url, prefix, count] = process.argv.slice(2);
  const client = new Etcd3({ hosts: url });
  const watcher = await client.watch().prefix(prefix).create();
  let seen = 0;
  const start = cpuSeconds();
  watcher.on('data', (res) => {
    seen += res.events.length;
    if (seen >= Number(count)) {
      process.stdout.write(`${(cpuSeconds() - start).toFixed(2)}\n`);
      process.exit(0);
    }
  });
  process.stdout.write('ready\n');
}

void main();

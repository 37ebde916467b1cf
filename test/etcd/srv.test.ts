/** SRV discovery: RFC 2782 ordering, name rules and resolv.conf parsing (units), then packets against dnsmasq. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DnsClient, parseNameserver, parseResolvConf } from '../../src/etcd/discovery/dns';
import { orderSrv, srvEndpoints, srvName, type SrvRecord } from '../../src/etcd/discovery/srv';
import { EtcdError } from '../../src/errors';
import { Dnsmasq } from '../support/dnsmasq';

const rec = (target: string, priority: number, weight: number, port = 2379): SrvRecord => ({ target, priority, weight, port });

/** A deterministic stand-in for Math.random: a small LCG. */
function seeded(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

test('srvName: a domain gets etcd\'s client record names; a name starting with _ is used as given', () => {
  assert.equal(srvName('example.com', false), '_etcd-client._tcp.example.com');
  assert.equal(srvName('example.com.', true), '_etcd-client-ssl._tcp.example.com');
  assert.equal(srvName('_etcd._tcp.example.com', true), '_etcd._tcp.example.com');
});

test('orderSrv: lower priority always comes first; "." targets are dropped', () => {
  const order = orderSrv([rec('c', 20, 100), rec('a', 0, 0), rec('.', 0, 50), rec('b', 10, 1)], seeded(1));
  assert.deepEqual(order.map((r) => r.target), ['a', 'b', 'c']);
});

test('orderSrv: within a priority, the first pick follows the weights (RFC 2782)', () => {
  const random = seeded(42);
  const first = new Map<string, number>();
  const rounds = 20_000;
  for (let i = 0; i < rounds; i++) {
    const t = orderSrv([rec('light', 1, 10), rec('heavy', 1, 30), rec('zero', 1, 0)], random)[0].target;
    first.set(t, (first.get(t) ?? 0) + 1);
  }
  // Expected shares: heavy 30/41, light 10/41, zero 1/41 (weight 0 is chosen only when the draw is exactly 0).
  const share = (t: string): number => (first.get(t) ?? 0) / rounds;
  assert.ok(Math.abs(share('heavy') - 30 / 41) < 0.02, `heavy ${share('heavy')}`);
  assert.ok(Math.abs(share('light') - 10 / 41) < 0.02, `light ${share('light')}`);
  assert.ok(share('zero') < 0.05, `zero ${share('zero')}`);
});

test('orderSrv: every record appears exactly once', () => {
  const records = Array.from({ length: 12 }, (_, i) => rec(`t${i}`, i % 3, (i * 7) % 5));
  const order = orderSrv(records, seeded(7));
  assert.equal(order.length, 12);
  assert.deepEqual(new Set(order.map((r) => r.target)).size, 12);
  assert.deepEqual(order.map((r) => r.priority), [...order.map((r) => r.priority)].sort((a, b) => a - b));
});

test('resolv.conf and --dns parsing', () => {
  assert.deepEqual(parseResolvConf('# c\nsearch x\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\n options ndots:2\n'), [
    { host: '10.0.0.2', port: 53 },
    { host: 'fe80::1', port: 53 },
  ]);
  assert.deepEqual(parseNameserver('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353 });
  assert.deepEqual(parseNameserver('[::1]:5353'), { host: '::1', port: 5353 });
  assert.deepEqual(parseNameserver('::1'), { host: '::1', port: 53 });
  assert.throws(() => parseNameserver('host:99999'), /bad port/);
});

let dns: Dnsmasq;
const many = Array.from({ length: 30 }, (_, i) => ({
  name: '_etcd-client._tcp.big.reconfig.test',
  target: `member-with-a-rather-long-name-${i}.reconfig.test`,
  port: 2000 + i,
  priority: i === 17 ? 0 : 10,
  weight: 10,
}));

before(async () => {
  dns = await Dnsmasq.start({
    srv: [
      ...many,
      { name: '_etcd-client-ssl._tcp.reconfig.test', target: 'm1.reconfig.test', port: 2379, priority: 10 },
      { name: '_etcd-client-ssl._tcp.reconfig.test', target: 'm0.reconfig.test', port: 2380, priority: 0 },
    ],
    hosts: {
      ...Object.fromEntries(many.map((m, i) => [m.target, `127.0.1.${i + 1}`])),
      'm0.reconfig.test': '127.0.0.10',
      'm1.reconfig.test': '127.0.0.11,::1',
    },
    txt: ['_etcd-client._tcp.empty.reconfig.test'],
  });
});
after(() => dns.stop());

test('a truncated UDP answer is asked again over TCP and every record arrives', async () => {
  const client = new DnsClient([{ host: '127.0.0.1', port: dns.port }]);
  const answers = await client.query('_etcd-client._tcp.big.reconfig.test', 'SRV');
  assert.equal(answers.length, 30);
  assert.deepEqual(client.sent, { udp: 1, tcp: 1 });
  const small = new DnsClient([{ host: '127.0.0.1', port: dns.port }]);
  await small.query('m0.reconfig.test', 'A');
  assert.deepEqual(small.sent, { udp: 1, tcp: 0 });
});

test('srvEndpoints: records in priority order, each target resolved to A and AAAA, TLS names kept', async () => {
  const source = srvEndpoints({ name: 'reconfig.test', ssl: true, nameservers: [{ host: '127.0.0.1', port: dns.port }] });
  assert.equal(source.describe, 'DNS SRV _etcd-client-ssl._tcp.reconfig.test');
  assert.deepEqual(await source.resolve(), [
    { url: 'https://127.0.0.10:2380', serverName: 'm0.reconfig.test' },
    { url: 'https://127.0.0.11:2379', serverName: 'm1.reconfig.test' },
    { url: 'https://[::1]:2379', serverName: 'm1.reconfig.test' },
  ]);
  const big = await srvEndpoints({ name: 'big.reconfig.test', ssl: false, nameservers: [{ host: '127.0.0.1', port: dns.port }] }).resolve();
  assert.equal(big.length, 30);
  assert.equal(big[0].url, 'http://127.0.1.18:2017', 'the one priority-0 record comes first');
});

test('no such name, or no records, is an error naming the name that was queried', async () => {
  const ns = [{ host: '127.0.0.1', port: dns.port }];
  await assert.rejects(srvEndpoints({ name: 'nowhere.reconfig.test', ssl: false, nameservers: ns }).resolve(), (err: Error) => {
    assert.ok(err instanceof EtcdError && err.kind === 'dns');
    assert.match(err.message, /^DNS SRV _etcd-client\._tcp\.nowhere\.reconfig\.test: the name does not exist \(NXDOMAIN\)/);
    return true;
  });
  await assert.rejects(srvEndpoints({ name: 'empty.reconfig.test', ssl: false, nameservers: ns }).resolve(), /^EtcdError: DNS SRV _etcd-client\._tcp\.empty\.reconfig\.test: no SRV records$/);
});

test('a nameserver that does not answer is named, and the next one is asked', async () => {
  const silent = { host: '127.0.0.1', port: 9 }; // discard: nothing answers
  const client = new DnsClient([silent, { host: '127.0.0.1', port: dns.port }], 300);
  assert.equal((await client.query('m0.reconfig.test', 'A')).length, 1);
  await assert.rejects(new DnsClient([silent], 300).query('m0.reconfig.test', 'A'), /no nameserver answered A m0\.reconfig\.test \(127\.0\.0\.1:9: /);
});

/**
 * DNS in templates against a real DNS server (dnsmasq on loopback): A, AAAA and SRV records through the system
 * resolver given that server, a name that does not exist (NXDOMAIN: an empty list, as in confd), a server that
 * does not answer (the render fails within the target's timeout), and /etc/hosts through getaddrinfo.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { test } from 'node:test';
import { translate } from '../../src/import/confd/emit';
import { TargetData } from '../../src/render/data';
import { systemResolver } from '../../src/render/lookup';
import { renderTarget } from '../../src/render/target';
import { compileTemplate } from '../../src/render/template';
import { Dnsmasq } from '../support/dnsmasq';
import { fakeTarget } from '../support/fake-target';

function confdTemplate(src: string) {
  const t = translate(src, { file: 't.tmpl', force: false });
  assert.deepEqual(t.problems, []);
  return compileTemplate('/tpl/t.ejs', t.ejs);
}

const data = { data: new TargetData() };

test('lookupIP and lookupSRV of names a real DNS server holds; a missing name is an empty list', async (t) => {
  const dns = await Dnsmasq.start({
    hosts: { 'db.reconfig.test': '10.0.0.20,fd00::20', 'e1.reconfig.test': '10.0.1.1', 'e2.reconfig.test': '10.0.1.2' },
    srv: [
      { name: '_etcd-client._tcp.reconfig.test', target: 'e2.reconfig.test', port: 2379, priority: 0, weight: 10 },
      { name: '_etcd-client._tcp.reconfig.test', target: 'e1.reconfig.test', port: 2379, priority: 1, weight: 0 },
    ],
  });
  t.after(() => dns.stop());
  const resolver = systemResolver({ servers: [dns.address] });
  const render = confdTemplate(
    '{{lookupIP "db.reconfig.test"}} {{lookupIPV4 "db.reconfig.test"}} {{lookupIP "gone.reconfig.test"}}\n' +
      '{{range lookupSRV "etcd-client" "tcp" "reconfig.test"}}{{.Target}} {{.Port}} {{.Priority}} {{.Weight}} {{lookupIP (trimSuffix .Target ".")}}\n{{end}}' +
      '{{len (lookupSRV "nope" "tcp" "reconfig.test")}}',
  );
  const out = await renderTarget(fakeTarget('real', { render }), data, { resolver });
  assert.deepEqual(out, [
    '[10.0.0.20 fd00::20] [10.0.0.20] []\ne1.reconfig.test. 2379 1 0 [10.0.1.1]\ne2.reconfig.test. 2379 0 10 [10.0.1.2]\n0',
  ]);
  const native = compileTemplate('/tpl/n.ejs', '<%= lookupSRV("_etcd-client._tcp.reconfig.test").map((r) => `${r.target}:${r.port}`).join(",") %>');
  assert.deepEqual(await renderTarget(fakeTarget('native', { render: native }), data, { resolver }), ['e1.reconfig.test:2379,e2.reconfig.test:2379']);
});

test('a DNS server that never answers fails the render within the target timeout, naming the name', async (t) => {
  // A UDP socket that reads questions and answers none.
  const silent = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => silent.close(() => resolve())));
  const resolver = systemResolver({ servers: [`127.0.0.1:${silent.address().port}`] });
  const render = confdTemplate('{{range lookupSRV "etcd-client" "tcp" "reconfig.test"}}{{.Target}}{{end}}');
  await assert.rejects(
    renderTarget(fakeTarget('silent', { render, timeoutMs: 300 }), data, { resolver }),
    /^TargetError: target silent: \/tpl\/t\.ejs:1: lookupSRV "_etcd-client\._tcp\.reconfig\.test": no answer within 300 ms/,
  );
});

test('lookupIP of an /etc/hosts name goes through getaddrinfo (dns.promises.lookup), as Go\'s net.LookupIP does', async () => {
  const out = await renderTarget(fakeTarget('hosts', { render: confdTemplate('{{range lookupIPV4 "localhost"}}{{.}}{{end}}') }), data, { resolver: systemResolver() });
  assert.deepEqual(out, ['127.0.0.1']);
});

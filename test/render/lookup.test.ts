/**
 * DNS in templates, fast tier: renderTarget's loop (render, resolve the name the template asked for, render again)
 * against a resolver faked at the OS boundary, the bound on names per render, the timeout on mock timers, and
 * what a template gets for a name that does not exist. test/render/lookup-dns.test.ts asks a real DNS server.
 */
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { TargetError } from '../../src/errors';
import { translate } from '../../src/import/confd/emit';
import { TargetData } from '../../src/render/data';
import { MAX_LOOKUPS, type Resolver, type SrvAnswer } from '../../src/render/lookup';
import { renderTarget } from '../../src/render/target';
import { compileTemplate } from '../../src/render/template';
import { fakeTarget } from '../support/fake-target';

/** A resolver answering from tables, counting the questions it was asked. */
function tableResolver(ips: Record<string, string[]>, srvs: Record<string, SrvAnswer[]> = {}): Resolver & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    ip: (name) => {
      asked.push(`ip ${name}`);
      return Promise.resolve(ips[name] ?? []);
    },
    srv: (name) => {
      asked.push(`srv ${name}`);
      return Promise.resolve(srvs[name] ?? []);
    },
  };
}

function confdTemplate(src: string) {
  const t = translate(src, { file: 't.tmpl', force: false });
  assert.deepEqual(t.problems, []);
  return compileTemplate('/tpl/t.ejs', t.ejs);
}

const data = (entries: Record<string, string> = {}) => ({ data: new TargetData(Object.entries(entries)) });

const SRV: SrvAnswer[] = [
  { name: 'b.example', port: 2379, priority: 0, weight: 10 },
  { name: 'a.example', port: 80, priority: 1, weight: 0 },
  { name: 'a.example', port: 8080, priority: 0, weight: 0 },
  { name: 'a.example', port: 80, priority: 0, weight: 5 },
  { name: 'a.example', port: 100, priority: 0, weight: 0 },
];

test('a translated confd template: lookupIP sorted as strings, lookupIPV4/V6 filtered, lookupSRV as *net.SRV in confd order', async () => {
  const resolver = tableResolver({ db: ['fd00::2', '10.0.0.9', '10.0.0.10', '::ffff:192.0.2.1'] }, { '_etcd._tcp.example': SRV, 'plain.example': [{ name: '', port: 1, priority: 0, weight: 0 }] });
  const render = confdTemplate(
    '{{lookupIP "db"}} {{lookupIPV4 "db"}} {{lookupIPV6 "db"}}\n' +
      '{{range lookupSRV "etcd" "tcp" "example"}}{{.Target}}:{{.Port}} p{{.Priority}} w{{.Weight}}\n{{end}}' +
      '{{range lookupSRV "" "" "plain.example"}}{{.}}{{end}} {{len (lookupIP "nowhere")}}{{range lookupIP "nowhere"}}x{{else}} none{{end}}',
  );
  const out = await renderTarget(fakeTarget('dns', { render }), data(), { resolver });
  // confd's key is Target, Port, Priority and Weight printed together and compared as strings: port 100 before 80.
  assert.deepEqual(out, [
    '[10.0.0.10 10.0.0.9 192.0.2.1 fd00::2] [10.0.0.10 10.0.0.9 192.0.2.1] [fd00::2]\n' +
      'a.example.:100 p0 w0\na.example.:80 p0 w5\na.example.:80 p1 w0\na.example.:8080 p0 w0\nb.example.:2379 p0 w10\n' +
      '{. 1 0 0} 0 none',
  ]);
  // Each name once, though the template asks for `db` three times: one render's answers are kept for its later renders.
  assert.deepEqual(resolver.asked, ['ip db', 'srv _etcd._tcp.example', 'srv plain.example', 'ip nowhere']);
});

test('a native template: lookupIP and lookupSRV (full record name, records by target, port, priority, weight)', async () => {
  const resolver = tableResolver({ 'db.internal': ['10.0.0.2', '10.0.0.1'] }, { '_etcd._tcp.example': SRV });
  const render = compileTemplate(
    '/tpl/n.ejs',
    '<%= lookupIP("db.internal").join(",") %>\n<% for (const r of lookupSRV("_etcd._tcp.example")) { %><%= r.target %>:<%= r.port %>/<%= r.priority %>/<%= r.weight %> <% } %>',
  );
  const out = await renderTarget(fakeTarget('native', { render }), data(), { resolver });
  assert.deepEqual(out, ['10.0.0.1,10.0.0.2\na.example:80/0/5 a.example:80/1/0 a.example:100/0/0 a.example:8080/0/0 b.example:2379/0/10 ']);
});

test('every render resolves again: a later render sees the new answer (no cache between renders)', async () => {
  const ips: Record<string, string[]> = { db: ['10.0.0.1'] };
  const resolver = tableResolver(ips);
  const t = fakeTarget('fresh', { render: confdTemplate('{{lookupIP "db"}}') });
  assert.deepEqual(await renderTarget(t, data(), { resolver }), ['[10.0.0.1]']);
  ips.db = ['10.0.0.2'];
  assert.deepEqual(await renderTarget(t, data(), { resolver }), ['[10.0.0.2]']);
  assert.deepEqual(resolver.asked, ['ip db', 'ip db']);
});

test('names that depend on etcd data and on earlier answers resolve one after another, each file of the target seeing them', async () => {
  const resolver = tableResolver({ 'a.svc': ['10.0.0.1'], 'b.svc': ['10.0.0.2'] }, { _x: [{ name: 'a.svc', port: 1, priority: 0, weight: 0 }] });
  const first = confdTemplate('{{range lookupSRV "" "" (getv "/deps/srv")}}{{lookupIP (trimSuffix .Target ".")}}{{end}}');
  const second = compileTemplate('/tpl/2.ejs', '<%= lookupIP(get("/deps/host")) %>');
  const t = fakeTarget('deps', { render: first });
  const both = { ...t, files: [t.files[0], { ...t.files[0], name: 'second', render: second }] };
  assert.deepEqual(await renderTarget(both, data({ '/deps/srv': '_x', '/deps/host': 'b.svc' }), { resolver }), ['[10.0.0.1]', '10.0.0.2']);
  assert.deepEqual(resolver.asked, ['srv _x', 'ip a.svc', 'ip b.svc']);
});

test(`at most ${MAX_LOOKUPS} names a render: the next one fails the render naming the template's line`, async () => {
  const resolver = tableResolver({});
  const render = confdTemplate('x\n{{range seq 1 40}}{{lookupIP (printf "h%d" .)}}{{end}}');
  await assert.rejects(renderTarget(fakeTarget('many', { render }), data(), { resolver }), (err: unknown) => {
    assert.ok(err instanceof TargetError);
    assert.equal(err.stage, 'render');
    assert.equal(err.message, `target many: /tpl/t.ejs:2: lookupIP "h${MAX_LOOKUPS + 1}": one render may look up at most ${MAX_LOOKUPS} DNS names`);
    return true;
  });
  assert.equal(resolver.asked.length, MAX_LOOKUPS);
});

test("no answer within the target's timeoutMs fails the render (the old file stays), naming the name and the line", async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let asked = 0;
  const resolver: Resolver = {
    // Never answers, and ignores the signal: the render must not wait for it anyway.
    ip: () => {
      asked++;
      return new Promise<string[]>(() => undefined);
    },
    srv: () => Promise.resolve([]),
  };
  const render = confdTemplate('a\nb\n{{lookupIP "slow.example"}}');
  const rendering = renderTarget(fakeTarget('slow', { render, timeoutMs: 5000 }), data(), { resolver });
  const failed = assert.rejects(rendering, /^TargetError: target slow: \/tpl\/t\.ejs:3: lookupIP "slow\.example": no answer within 5000 ms \(the target's timeout, for all its lookups\)$/);
  // Let the render reach the resolver (a few turns of promises), then move the clock past the timeout.
  while (asked === 0) await new Promise<void>((r) => setImmediate(r));
  t.mock.timers.tick(4999);
  t.mock.timers.tick(1);
  await failed;
});

test('a resolver that fails (no server answered) fails the render with its code; the stop signal stops a lookup', async () => {
  const servfail = Object.assign(new Error('queryA ESERVFAIL db'), { code: 'ESERVFAIL' });
  const resolver: Resolver = { ip: () => Promise.reject(servfail), srv: () => Promise.resolve([]) };
  const render = confdTemplate('{{lookupIP "db"}}');
  await assert.rejects(renderTarget(fakeTarget('fail', { render }), data(), { resolver }), (err: unknown) => {
    assert.ok(err instanceof TargetError);
    assert.equal(err.message, 'target fail: /tpl/t.ejs:1: lookupIP "db": ESERVFAIL');
    assert.equal((err.cause as Error).cause instanceof Error && ((err.cause as Error).cause as Error).cause, servfail);
    return true;
  });
  const stop = new AbortController();
  const hanging: Resolver = { ip: (_n, signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('cancelled')))), srv: () => Promise.resolve([]) };
  const rendering = renderTarget(fakeTarget('stop', { render }), data(), { resolver: hanging, signal: stop.signal });
  stop.abort();
  await assert.rejects(rendering, /lookupIP "db": stopped/);
});

test('an SRV target that is not a host name is refused, not written into the file', async () => {
  const resolver = tableResolver({}, { _evil: [{ name: 'a.example\nserver evil 6.6.6.6', port: 1, priority: 0, weight: 0 }] });
  const render = confdTemplate('{{range lookupSRV "" "" "_evil"}}{{.Target}}{{end}}');
  await assert.rejects(renderTarget(fakeTarget('evil', { render }), data(), { resolver }), /lookupSRV "_evil": refused an SRV target that is not a host name: "a\.example\\nserver evil 6\.6\.6\.6"/);
});

test('other errors keep their stage and message; a template rendered outside renderTarget says DNS is not resolved there', async () => {
  const resolver = tableResolver({ db: ['10.0.0.1'] });
  const render = confdTemplate('{{lookupIP "db"}}\n{{getv "/missing"}}');
  await assert.rejects(renderTarget(fakeTarget('mixed', { render }), data(), { resolver }), /^TargetError: target mixed: \/tpl\/t\.ejs:2: error calling getv: \/missing lies outside this target's keys \(\/mixed\)/);
  assert.throws(() => render({}), /^TemplateError: \/tpl\/t\.ejs:1: lookupIP "db": DNS is resolved only when a target renders$/);
  assert.throws(() => confdTemplate('{{lookupIP 1}}')({}), /lookupIP: wrong type for value; expected string; got int/);
});

test('onRendered counts template time only, once per renderTarget', async () => {
  const resolver = tableResolver({ db: ['10.0.0.1'] });
  const seen: number[] = [];
  await renderTarget(fakeTarget('timed', { render: confdTemplate('{{lookupIP "db"}}') }), data(), { resolver, onRendered: (s) => seen.push(s) });
  assert.equal(seen.length, 1);
  assert.ok(seen[0] >= 0);
  mock.reset();
});

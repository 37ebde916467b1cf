/**
 * The `import` scenario: `reconfig import confd` on a confdir of 100 resources (wall time, median of runs),
 * and the render time of a translated template against the same target written natively in EJS (the two
 * outputs are checked equal first). No etcd: both are pure. Standalone: `node dist/test/bench/import.js`.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { importConfd } from '../../src/import/confd/command';
import { translate } from '../../src/import/confd/emit';
import { TargetData } from '../../src/render/data';
import { compileTemplate } from '../../src/render/template';
import { median, now, round, workDir } from './harness';

const GO = `global
    maxconn {{getv "/services/web/maxconn" "2000"}}

backend web
    balance roundrobin
{{- range gets "/services/web/servers/*"}}
{{- $parts := split .Value ":"}}
    server {{base .Key}} {{index $parts 0}}:{{index $parts 1}} check
{{- end}}
`;

const NATIVE = `global
    maxconn <%= get("/services/web/maxconn", "2000") %>

backend web
    balance roundrobin
<% for (const c of children("/services/web/servers")) { const [host, port] = c.value.split(":"); -%>
    server <%= c.name %> <%= host %>:<%= port %> check
<% } -%>
`;

function confdir(dir: string, resources: number): void {
  mkdirSync(path.join(dir, 'conf.d'), { recursive: true });
  mkdirSync(path.join(dir, 'templates'), { recursive: true });
  writeFileSync(path.join(dir, 'templates', 'haproxy.cfg.tmpl'), GO);
  for (let i = 0; i < resources; i++) {
    writeFileSync(
      path.join(dir, 'conf.d', `svc${i}.toml`),
      `[template]\nsrc = "haproxy.cfg.tmpl"\ndest = "/etc/haproxy/svc${i}.cfg"\nkeys = ["/services/web"]\nprefix = "/svc${i}"\ncheck_cmd = "haproxy -c -f {{.src}}"\nreload_cmd = "systemctl reload haproxy"\n`,
    );
  }
}

function data(servers: number): Record<string, string> {
  const d: Record<string, string> = {};
  for (let i = 0; i < servers; i++) d[`/services/web/servers/web${String(i).padStart(4, '0')}`] = `10.0.${i >> 8}.${i & 255}:8080`;
  return d;
}

/** Microseconds per render of `render` over `d`, the median of 5 batches. */
function perRender(render: (d: Record<string, string>) => string, d: Record<string, string>, n: number): number {
  const batches: number[] = [];
  for (let b = 0; b < 5; b++) {
    const t0 = now();
    for (let i = 0; i < n; i++) render(d);
    batches.push(((now() - t0) * 1000) / n);
  }
  return median(batches);
}

export async function importBench(quick: boolean): Promise<Record<string, number>> {
  const dir = workDir('import');
  try {
    const src = path.join(dir, 'confd');
    confdir(src, 100);
    const times: number[] = [];
    for (let r = 0; r < (quick ? 3 : 7); r++) {
      const out = path.join(dir, `out${r}`);
      const t0 = now();
      const res = await importConfd({ confdir: src, out, dryRun: false, force: false }, () => undefined, (e) => process.stderr.write(e));
      times.push(now() - t0);
      if (res.kind !== 'ok') throw new Error(`import failed: ${res.kind}`);
    }
    const result: Record<string, number> = { import_100_ms: round(median(times)) };
    const translated = compileTemplate('haproxy.ejs', translate(GO, { file: 'haproxy.cfg.tmpl', force: false }).ejs);
    const native = compileTemplate('native.ejs', NATIVE);
    for (const servers of [20, 1000]) {
      const d = new TargetData(Object.entries(data(servers))).toObject();
      if (translated(d) !== native(d)) throw new Error(`translated and native outputs differ for ${servers} servers`);
      const n = Math.max(20, Math.round((quick ? 20_000 : 100_000) / servers));
      result[`render_${servers}_translated_us`] = round(perRender(translated, d, n), 1);
      result[`render_${servers}_native_us`] = round(perRender(native, d, n), 1);
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  importBench(process.argv.includes('--quick')).then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}

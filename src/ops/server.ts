/** --listen: GET /metrics (Prometheus text) and GET /healthz (200 or 503, with a JSON body that says why). */
import http from 'node:http';
import net from 'node:net';
import { UsageError, errorMessage } from '../errors';
import type { Logger } from '../log';
import type { Metrics } from './metrics';

/** `127.0.0.1:9100`, `[::1]:9100` or `localhost:9100`. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--listen ${JSON.stringify(text)}: give host:port, such as 127.0.0.1:9100`);
  }
  return { host: m[1] ?? m[2], port };
}

export async function serve(listen: string, metrics: Metrics, log: Logger): Promise<http.Server> {
  const { host, port } = parseListen(listen);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${errorMessage(err)}\n`),
      );
    } else if (path === '/healthz') {
      const v = metrics.verdict();
      res.writeHead(v.healthy ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(v)}\n`);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('reconfig serves /metrics and /healthz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new UsageError(`--listen ${listen}: ${errorMessage(err)}`)));
    server.listen(port, host, () => resolve());
  });
  server.unref();
  const addr = server.address() as net.AddressInfo;
  log.info({ listen: `${addr.address}:${addr.port}` }, `serving /metrics and /healthz on ${listen}`);
  return server;
}

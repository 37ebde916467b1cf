/** JSON POSTs to etcd's gateway over HTTP or HTTPS (with the client certificate), with one deadline per call. */
import http from 'node:http';
import https from 'node:https';
import { errorMessage } from '../errors';
import type { Endpoint } from './endpoints';
import type { TlsMaterial } from './settings';

/** The gateway answered 404: it is not enabled on this etcd. */
export class GatewayMissing extends Error {}

/** An error the gateway returned, with its gRPC code's message (e.g. "etcdserver: authentication failed"). */
export class GatewayError extends Error {}

export class JsonHttp {
  private readonly plain = new http.Agent({ keepAlive: true, maxSockets: 8 });
  private readonly secure: https.Agent;

  constructor(
    tls: TlsMaterial | undefined,
    private readonly timeoutMs: number,
  ) {
    this.secure = new https.Agent({ keepAlive: true, maxSockets: 8, ...(tls ?? {}) });
  }

  post<T>(endpoint: Endpoint, path: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
    const url = new URL(path, endpoint.url);
    const isHttps = url.protocol === 'https:';
    return new Promise<T>((resolve, reject) => {
      const options: https.RequestOptions = {
        method: 'POST',
        agent: isHttps ? this.secure : this.plain,
        headers: { 'content-type': 'application/json', ...headers },
        timeout: this.timeoutMs,
        // An SRV target reached by its address: check its certificate against its name.
        ...(isHttps && endpoint.serverName ? { servername: endpoint.serverName } : {}),
      };
      const req = (isHttps ? https : http).request(url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(err));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 404) return reject(new GatewayMissing(`no JSON gateway on ${endpoint.url}`));
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch (err) {
            return reject(new GatewayError(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`, { cause: err }));
          }
          if (res.statusCode !== 200) {
            const e = json as { message?: string; error?: string };
            return reject(new GatewayError(e.message ?? e.error ?? `HTTP ${res.statusCode}`));
          }
          resolve(json as T);
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        // Node's TLS errors carry what failed in their code (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE).
        const code = err.code && !errorMessage(err).includes(err.code) ? ` (${err.code})` : '';
        reject(new Error(`${errorMessage(err)}${code}`, { cause: err }));
      });
      req.end(JSON.stringify(body));
    });
  }

  close(): void {
    this.plain.destroy();
    this.secure.destroy();
  }
}

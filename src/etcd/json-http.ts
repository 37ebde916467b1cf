/** JSON POSTs to etcd's gateway over HTTP or HTTPS (with the client certificate), each with a deadline. */
import http from 'node:http';
import type https from 'node:https';
import { EtcdError, errorMessage } from '../errors';
import { endpointLabel, type Endpoint } from './endpoints';
import { formatMs, type TlsMaterial } from './settings';

/** When a call must have been answered, and what to say when it was not. */
export interface Deadline {
  /** Date.now() by which the whole answer must have arrived. */
  at: number;
  /** The time the caller allowed, for the message. */
  allowedMs: number;
  /** What was waited for, e.g. "the range read". */
  what: string;
}

/** The gateway answered 404: it is not enabled on this etcd. */
export class GatewayMissing extends Error {}

/** An error the gateway returned, with its gRPC code's message (e.g. "etcdserver: authentication failed"). */
export class GatewayError extends Error {}

export class JsonHttp {
  private readonly plain = new http.Agent({ keepAlive: true, maxSockets: 8 });
  private secure?: { https: typeof https; agent: https.Agent };

  constructor(private readonly tls: TlsMaterial | undefined) {}

  /**
   * node:https, loaded at the first https endpoint only: it brings TLS and OpenSSL's start-up, about a third of
   * a plain --onetime's start here.
   */
  private secureAgent(): { https: typeof https; agent: https.Agent } {
    if (!this.secure) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require('node:https') as typeof https;
      this.secure = { https: mod, agent: new mod.Agent({ keepAlive: true, maxSockets: 8, ...(this.tls ?? {}) }) };
    }
    return this.secure;
  }

  /**
   * One POST, given up at `deadline` wherever it stands (connecting, sending, waiting, reading): a member that
   * accepts TCP and never answers fails with an EtcdError naming it, what was waited for, and for how long.
   */
  post<T>(endpoint: Endpoint, path: string, body: unknown, deadline: Deadline, headers: Record<string, string> = {}): Promise<T> {
    const url = new URL(path, endpoint.url);
    const isHttps = url.protocol === 'https:';
    const late = new EtcdError(`etcd ${endpointLabel(endpoint)} did not answer ${deadline.what} within ${formatMs(deadline.allowedMs)}`, {
      kind: 'unreachable',
    });
    let timer: NodeJS.Timeout | undefined;
    const secure = isHttps ? this.secureAgent() : undefined;
    const answer = new Promise<T>((resolve, reject) => {
      const options: https.RequestOptions = {
        method: 'POST',
        agent: secure ? secure.agent : this.plain,
        headers: { 'content-type': 'application/json', ...headers },
        // An SRV target reached by its address: check its certificate against its name.
        ...(isHttps && endpoint.serverName ? { servername: endpoint.serverName } : {}),
      };
      const req = (secure ? secure.https : http).request(url, options, (res) => {
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
      timer = setTimeout(() => req.destroy(late), Math.max(0, deadline.at - Date.now()));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err === late) return reject(late);
        // Node's TLS errors carry what failed in their code (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE).
        const code = err.code && !errorMessage(err).includes(err.code) ? ` (${err.code})` : '';
        reject(new Error(`${errorMessage(err)}${code}`, { cause: err }));
      });
      req.end(JSON.stringify(body));
    });
    return answer.finally(() => clearTimeout(timer));
  }

  close(): void {
    this.plain.destroy();
    this.secure?.agent.destroy();
  }
}

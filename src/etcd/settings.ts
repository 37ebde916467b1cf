/**
 * Turns the connection flags into what the etcd clients need: the endpoint source (host/port, --endpoints or
 * --srv), TLS material read from disk (an encrypted key decrypted here, in memory), password auth and how long
 * to wait for etcd. Every problem is a UsageError that names the flag and the file, before anything is contacted.
 */
import { readFileSync } from 'node:fs';
import { parseDuration } from '../config/duration';
import { UsageError, errorMessage } from '../errors';
import { staticEndpoints, type EndpointSource } from './endpoints';
import { parseNameserver, systemNameservers, type Nameserver } from './discovery/dns';
import { srvEndpoints } from './discovery/srv';
import { PASSWORD_ENV } from './env';

export interface ConnectionFlags {
  host: string;
  port: number;
  endpoints?: string;
  srv?: string;
  dns?: string;
  ssl?: boolean;
  ssl_cafile?: string;
  ssl_cert?: string;
  ssl_key?: string;
  ssl_passphrase?: string;
  user?: string;
  /** --etcd-timeout: how long a read waits for etcd (a duration, e.g. "3s"; default DEFAULT_ETCD_TIMEOUT). */
  etcdTimeout?: string;
}

/** --etcd-timeout's default: a one-shot read gives up within 3 s, as confd does. */
// 2.5 s, so that --onetime against a member that never answers exits within 3 s, start-up included.
export const DEFAULT_ETCD_TIMEOUT = '2.5s';
export const DEFAULT_ETCD_TIMEOUT_MS = 2500;

export interface TlsMaterial {
  /** PEM; absent means the system's CAs. */
  ca?: Buffer;
  cert?: Buffer;
  /** PEM, decrypted. */
  key?: Buffer;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface ConnectionSettings {
  source: EndpointSource;
  tls?: TlsMaterial;
  auth?: Credentials;
  /**
   * --etcd-timeout in ms (DEFAULT_ETCD_TIMEOUT_MS when absent): the whole of a one-shot read, every member and
   * any fallback included; the deadline of each unary call of the watching agent.
   */
  timeoutMs?: number;
}

export function connectionSettings(
  flags: ConnectionFlags,
  env: NodeJS.ProcessEnv = process.env,
  warn?: (message: string) => void,
): ConnectionSettings {
  if (flags.endpoints !== undefined && flags.srv !== undefined) throw new UsageError('give either --endpoints or --srv, not both');
  if (flags.dns !== undefined && flags.srv === undefined) throw new UsageError('--dns is only used with --srv');
  const urls = flags.endpoints !== undefined ? parseEndpoints(flags.endpoints, flags.ssl === true) : null;
  const secure = flags.ssl === true || (urls?.some((u) => u.startsWith('https:')) ?? false);
  if (urls && secure && urls.some((u) => u.startsWith('http:'))) {
    throw new UsageError(`--endpoints: every endpoint must use the same scheme (TLS is on): ${urls.join(',')}`);
  }
  const tls = secure ? readTls(flags) : undefined;
  if (!secure) {
    for (const f of ['ssl_cafile', 'ssl_cert', 'ssl_key', 'ssl_passphrase'] as const) {
      if (flags[f] !== undefined) throw new UsageError(`--${f} needs TLS: add --ssl (or give https:// endpoints)`);
    }
  }
  let source: EndpointSource;
  if (flags.srv !== undefined) {
    source = srvEndpoints({ name: flags.srv, ssl: secure, nameservers: nameservers(flags.dns), warn });
  } else if (urls) {
    source = staticEndpoints(urls);
  } else {
    // An IPv6 literal is the only host with a colon (not net.isIPv6: its pattern costs milliseconds to compile at start).
    const host = flags.host.includes(':') && !flags.host.startsWith('[') ? `[${flags.host}]` : flags.host;
    source = staticEndpoints([`${secure ? 'https' : 'http'}://${host}:${flags.port}`], '--host/--port');
  }
  const timeoutMs = etcdTimeout(flags.etcdTimeout ?? DEFAULT_ETCD_TIMEOUT);
  return { source, timeoutMs, ...(tls ? { tls } : {}), ...(flags.user !== undefined ? { auth: credentials(flags.user, env) } : {}) };
}

function etcdTimeout(text: string): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (err) {
    throw new UsageError(`--etcd-timeout: ${errorMessage(err)}`, { cause: err });
  }
  if (ms <= 0) throw new UsageError(`--etcd-timeout: must be more than 0 (got ${JSON.stringify(text)})`);
  return ms;
}

/** `3 s`, `1.5 s`, `750 ms`: a duration as a message gives it (a budget split three ways, 999.7 ms, is `1 s`). */
export function formatMs(ms: number): string {
  if (ms < 950) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 100) / 10;
  return `${s} s`;
}

/** `https://10.0.0.1:2379,10.0.0.2:2379`: a bare host:port takes its scheme from --ssl; the port defaults to 2379. */
export function parseEndpoints(text: string, ssl: boolean): string[] {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new UsageError('--endpoints: no endpoint given');
  return items.map((item) => {
    const withScheme = /^[a-z]+:\/\//i.test(item) ? item : `${ssl ? 'https' : 'http'}://${item}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch (err) {
      throw new UsageError(`--endpoints: not a URL: ${JSON.stringify(item)}`, { cause: err });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new UsageError(`--endpoints: ${JSON.stringify(item)}: the scheme must be http or https`);
    }
    if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.username) {
      throw new UsageError(`--endpoints: ${JSON.stringify(item)}: give only scheme://host:port`);
    }
    return `${url.protocol}//${url.hostname}:${url.port || '2379'}`;
  });
}

function nameservers(dns: string | undefined): Nameserver[] {
  if (dns === undefined) return systemNameservers();
  try {
    return dns.split(',').map((s) => parseNameserver(s.trim()));
  } catch (err) {
    throw new UsageError(`--dns: ${errorMessage(err)}`, { cause: err });
  }
}

function readFlagFile(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : errorMessage(err);
    throw new UsageError(`--${flag} ${file}: ${why}`, { cause: err });
  }
}

function readTls(flags: ConnectionFlags): TlsMaterial {
  const ca = flags.ssl_cafile !== undefined ? readFlagFile('ssl_cafile', flags.ssl_cafile) : undefined;
  const cert = flags.ssl_cert !== undefined ? readFlagFile('ssl_cert', flags.ssl_cert) : undefined;
  const rawKey = flags.ssl_key !== undefined ? readFlagFile('ssl_key', flags.ssl_key) : undefined;
  if ((cert === undefined) !== (rawKey === undefined)) throw new UsageError('--ssl_cert and --ssl_key go together: give both or neither');
  if (flags.ssl_passphrase !== undefined && rawKey === undefined) throw new UsageError('--ssl_passphrase needs --ssl_key');
  const key = rawKey && flags.ssl_key !== undefined ? decryptKey(flags.ssl_key, rawKey, flags.ssl_passphrase) : undefined;
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

/**
 * The key as unencrypted PKCS#8 PEM, which gRPC needs. An encrypted key is decrypted in memory with the
 * passphrase; the passphrase never appears in a message.
 */
function decryptKey(file: string, pem: Buffer, passphrase: string | undefined): Buffer {
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem.toString('latin1'));
  if (encrypted && passphrase === undefined) throw new UsageError(`--ssl_key ${file}: the key is encrypted; give --ssl_passphrase`);
  try {
    // node:crypto only when a key is given: loading it starts OpenSSL, which a plain --onetime need not pay for.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createPrivateKey } = require('node:crypto') as typeof import('node:crypto');
    const key = createPrivateKey({ key: pem, format: 'pem', ...(encrypted ? { passphrase } : {}) });
    return Buffer.from(key.export({ format: 'pem', type: 'pkcs8' }));
  } catch (err) {
    throw new UsageError(
      encrypted ? `--ssl_key ${file}: cannot decrypt the key: wrong --ssl_passphrase?` : `--ssl_key ${file}: not a PEM private key`,
      { cause: err },
    );
  }
}

/** `name:password`, or `name` with the password in RECONFIG_ETCD_PASSWORD. */
function credentials(user: string, env: NodeJS.ProcessEnv): Credentials {
  const colon = user.indexOf(':');
  const username = colon >= 0 ? user.slice(0, colon) : user;
  const password = colon >= 0 ? user.slice(colon + 1) : env[PASSWORD_ENV];
  if (username === '') throw new UsageError('--user: the user name is empty');
  if (password === undefined || password === '') {
    throw new UsageError(`--user ${username}: no password: set ${PASSWORD_ENV} (or give --user name:password)`);
  }
  return { username, password };
}

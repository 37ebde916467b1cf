/**
 * Turns what the etcd3 client, gRPC, Node's TLS or the DNS resolver threw into an EtcdError that says what
 * failed (certificate, authentication, unreachable member) and where, without gRPC's noise.
 */
import { EtcdError, errorMessage, type EtcdFailure } from '../errors';

const TLS = /certificate|SSL routines|ssl3_|tlsv1 alert|alert bad|handshake|self[- ]signed|unable to verify|ERR_TLS|CERT_|DEPTH_ZERO|wrong version number/i;
// Not "invalid auth token": a token that expired is renewed by a fresh client, so it is no misconfiguration.
const AUTH = /authentication failed|invalid user ID or password|user name is empty|permission denied|auth(entication)? is not enabled/i;
const UNREACHABLE = /UNAVAILABLE|DEADLINE_EXCEEDED|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ETIMEDOUT|socket hang up|no answer within|Failed to connect|Connection dropped/i;

function failureKind(err: unknown): EtcdFailure {
  if (err instanceof EtcdError) return err.kind;
  const code = (err as { code?: unknown } | null)?.code;
  const text = `${err instanceof Error ? err.name : ''} ${errorMessage(err)} ${typeof code === 'string' ? code : ''}`;
  if (TLS.test(text)) return 'tls';
  if (/EtcdAuthenticationFailedError|EtcdPermissionDeniedError|EtcdUserNotFoundError/.test(text) || AUTH.test(text)) return 'auth';
  if (UNREACHABLE.test(text)) return 'unreachable';
  return 'other';
}

/** gRPC's message without its timestamp, empty "Resolution note" and OpenSSL's source locations. */
function tidy(message: string): string {
  return message
    .replace(/\s*\(\d{4}-\d\d-\d\dT[\d:.]+Z\)/g, '')
    .replace(/[0-9A-F]{8,}:error:[0-9A-F]+:SSL routines:[^:]*:(?:sslv3 |tlsv1 )?(alert [^:]+):\S+:\d+:SSL alert number \d+/g, 'the server sent TLS $1')
    .replace(/\.?\s*Resolution note:\s*$/, '')
    .replace(/\s+/g, ' ')
    .trim();
}

const WHAT: Record<EtcdFailure, string> = {
  tls: 'TLS handshake failed (check --ssl_cafile, --ssl_cert and --ssl_key against the server)',
  auth: 'authentication failed (check --user and its password)',
  unreachable: 'unreachable',
  dns: 'DNS discovery failed',
  other: 'failed',
};

/** `etcd read on https://10.0.0.1:2379: TLS handshake failed (...): <cause>`. Already-classified errors pass through. */
export function classify(err: unknown, where: string, what: 'read' | 'watch' | 'resolve' | 'write'): EtcdError {
  if (err instanceof EtcdError) return err;
  const kind = failureKind(err);
  const detail = tidy(errorMessage(err));
  return new EtcdError(`etcd ${what} on ${where}: ${kind === 'tls' ? tlsWhat(detail) : WHAT[kind]}: ${detail}`, { cause: err, kind });
}

/** Which side of the handshake gave up. */
function tlsWhat(detail: string): string {
  if (/alert (bad certificate|certificate required|unknown ca|certificate unknown|certificate expired)/i.test(detail)) {
    return 'the server refused our client certificate (check --ssl_cert and --ssl_key)';
  }
  if (/verify|self[- ]signed|CERT_|altnames|Hostname\/IP does not match|LEAF_SIGNATURE|ISSUER/i.test(detail)) {
    return 'the server\'s certificate is not trusted (check --ssl_cafile, and the name the certificate was issued for)';
  }
  return WHAT.tls;
}

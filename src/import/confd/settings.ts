/**
 * confd.toml (backend, nodes, prefix, TLS files, basic auth, watch/interval, ...) as the RECONFIG_* lines of
 * /etc/default/reconfig. Every setting becomes either a line or a comment saying why it has none: nothing is
 * dropped or guessed silently. The password is never printed. A backend other than etcd is a problem.
 */
import { lineOf, readToml, type FileProblem } from './toml';

export interface Settings {
  /** The lines to print, comments included. */
  lines: string[];
  /** confd's global prefix, normalised ("/production"), when set. */
  prefix?: string;
}

const OTHER_BACKENDS = new Set(['auth_token', 'auth_type', 'table', 'separator', 'app_id', 'user_id', 'role_id', 'secret_id', 'file', 'filter', 'path']);

/** Reads confd.toml's text (the file `file`); `out` is the reconfig cfgdir the import writes. */
export function readSettings(file: string, text: string, out: string, problems: FileProblem[]): Settings {
  const doc = readToml(file, text, problems) ?? {};
  const lines = [`# /etc/default/reconfig, from ${file}`, `RECONFIG_CFGDIR=${out}`];
  const note = (s: string): void => void lines.push(`# ${s}`);
  const str = (k: string): string | undefined => (typeof doc[k] === 'string' ? (doc[k]) : undefined);
  const settings: Settings = { lines };

  const backend = str('backend') ?? 'etcd';
  if (backend !== 'etcd' && backend !== 'etcdv3') {
    problems.push({ file, line: lineOf(text, 'backend'), message: `backend ${JSON.stringify(backend)}: reconfig reads etcd only (confd's etcd and etcdv3 backends)` });
  }
  const tls = str('client_cert') !== undefined || str('client_cakeys') !== undefined;
  const nodes = Array.isArray(doc.nodes) ? doc.nodes.filter((n): n is string => typeof n === 'string') : [];
  if (nodes.length > 0) {
    // confd's etcd client turns TLS on when it has a CA or a client certificate, whatever the scheme says.
    const urls = nodes.map((n) => (tls ? n.replace(/^https?:\/\//, '') : n));
    lines.push(`RECONFIG_ENDPOINTS=${urls.join(',')}`);
  } else if (str('srv_record') === undefined && str('srv_domain') === undefined) {
    note(`no nodes: confd's ${backend} backend used ${backend === 'etcd' ? '$ETCDCTL_PEERS, else http://127.0.0.1:4001' : '127.0.0.1:2379'}; reconfig uses 127.0.0.1:2379 (RECONFIG_ENDPOINTS)`);
  }
  if (str('srv_record') !== undefined) lines.push(`RECONFIG_SRV=${str('srv_record')}`);
  else if (str('srv_domain') !== undefined) {
    lines.push(`RECONFIG_SRV=_${backend}._tcp.${str('srv_domain')!.replace(/\.$/, '')}.`);
    note(`confd looked up _${backend}._tcp.<srv_domain>; reconfig's own default for a domain is _etcd-client._tcp`);
    if (str('scheme') === 'https' && !tls) lines.push('RECONFIG_SSL=true');
  }
  if (tls) lines.push('RECONFIG_SSL=true');
  if (str('client_cakeys') !== undefined) lines.push(`RECONFIG_SSL_CAFILE=${str('client_cakeys')}`);
  if (str('client_cert') !== undefined) lines.push(`RECONFIG_SSL_CERT=${str('client_cert')}`);
  if (str('client_key') !== undefined) lines.push(`RECONFIG_SSL_KEY=${str('client_key')}`);
  if (doc.client_insecure === true) note('client_insecure: reconfig always verifies etcd\'s certificate; give the CA that signed it (RECONFIG_SSL_CAFILE)');

  if (doc.basic_auth === true && str('username') !== undefined) {
    lines.push(`RECONFIG_USER=${str('username')}`);
    if (doc.password !== undefined) note('RECONFIG_ETCD_PASSWORD=...   (confd.toml has the password; it is not printed: set it here, in a file of mode 0600)');
  } else if (str('username') !== undefined) {
    note('username without basic_auth = true: confd sent no credentials, so neither does reconfig');
  }

  const prefix = str('prefix');
  if (prefix !== undefined && prefix !== '' && prefix !== '/') {
    const p = `/${prefix.replace(/^\/+|\/+$/g, '')}`;
    lines.push(`RECONFIG_PREFIX=${p}`);
    settings.prefix = p;
  }

  if (doc.watch === true) note('watch = true: reconfig always watches etcd');
  if (doc.interval !== undefined) {
    note(`interval = ${typeof doc.interval === 'bigint' ? doc.interval.toString() : JSON.stringify(doc.interval)}: reconfig watches instead of polling; RECONFIG_RESYNC (default 1h) re-reads everything as a safety net`);
  }
  if (doc.noop === true) lines.push('RECONFIG_NOTREALLY=true');
  if (doc.onetime === true) lines.push('RECONFIG_ONETIME=true');
  const level = str('log-level');
  if (level === 'debug') lines.push('RECONFIG_DEBUG=true');
  else if (level === 'info' || level === 'warn' || level === 'error') lines.push(`RECONFIG_LOG_LEVEL=${level}`);
  else if (level === 'warning') lines.push('RECONFIG_LOG_LEVEL=warn');
  else if (level === 'panic' || level === 'fatal') lines.push('RECONFIG_LOG_LEVEL=error');
  else if (level !== undefined) note(`log-level = ${JSON.stringify(level)}: not a level reconfig knows; it logs at info (RECONFIG_LOG_LEVEL: debug, info, warn or error)`);
  if (doc['sync-only'] === true) note('sync-only: reconfig has no such mode; it runs each target\'s checkcmd and reloadcmd');
  if (str('confdir') !== undefined) note(`confdir = ${JSON.stringify(str('confdir'))}: read with --confdir; reconfig's is RECONFIG_CFGDIR`);
  for (const k of Object.keys(doc)) {
    if (OTHER_BACKENDS.has(k)) note(`${k}: a setting of confd's other backends; ignored`);
    else if (!['backend', 'nodes', 'srv_record', 'srv_domain', 'scheme', 'client_cert', 'client_key', 'client_cakeys', 'client_insecure', 'basic_auth', 'username', 'password', 'prefix', 'watch', 'interval', 'noop', 'onetime', 'log-level', 'sync-only', 'confdir'].includes(k)) {
      note(`${k}: not a setting confd reads; ignored`);
    }
  }
  return settings;
}

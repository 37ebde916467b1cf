/**
 * A small stub resolver on dns-packet: one question to each nameserver in turn, over UDP, asked again over TCP
 * when the answer comes back truncated. Only what SRV discovery needs (SRV, A, AAAA), and every failure names
 * the name that was asked and the server that answered.
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket } from 'dns-packet';
import { EtcdError } from '../../errors';

export interface Nameserver {
  host: string;
  port: number;
}

export type QueryType = 'SRV' | 'A' | 'AAAA';

/** The name does not exist (NXDOMAIN): asking another server will not change that. */
export class NoSuchName extends Error {}

const RCODE_NOERROR = 0;
const RCODE_NXDOMAIN = 3;
const RCODE_NAMES: Record<number, string> = { 1: 'FORMERR', 2: 'SERVFAIL', 4: 'NOTIMP', 5: 'REFUSED' };

/** Parses `host`, `host:port`, `[v6]:port` or a bare IPv6 address; port 53 by default. */
export function parseNameserver(text: string): Nameserver {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return { host: bracketed[1], port: Number(bracketed[2] ?? 53) };
  if (net.isIPv6(text)) return { host: text, port: 53 };
  const m = /^([^:]+)(?::(\d+))?$/.exec(text);
  if (!m) throw new Error(`not a nameserver (host[:port]): ${JSON.stringify(text)}`);
  const port = Number(m[2] ?? 53);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`bad port in nameserver ${JSON.stringify(text)}`);
  return { host: m[1], port };
}

/** The `nameserver` lines of a resolv.conf, in order (a zone index such as `%eth0` is dropped). */
export function parseResolvConf(text: string): Nameserver[] {
  const out: Nameserver[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m) out.push({ host: m[1].replace(/%.*$/, ''), port: 53 });
  }
  return out;
}

export function systemNameservers(file = '/etc/resolv.conf'): Nameserver[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new EtcdError(`cannot read ${file} for nameservers: ${(err as Error).message}; give --dns host[:port]`, { kind: 'dns', cause: err });
  }
  const servers = parseResolvConf(text);
  // resolv.conf(5): with no nameserver line, the resolver asks the local machine.
  return servers.length > 0 ? servers : [{ host: '127.0.0.1', port: 53 }];
}

export class DnsClient {
  private nextId = Math.floor(Math.random() * 0xffff);
  /** Questions sent over each transport (TCP only after a truncated UDP answer). */
  readonly sent = { udp: 0, tcp: 0 };

  constructor(
    readonly servers: readonly Nameserver[],
    private readonly timeoutMs = 2000,
  ) {}

  /**
   * The answers of `type` for `name`, asking each server in turn until one answers. An empty list means the name
   * exists but has no such records. NXDOMAIN throws NoSuchName at once; other failures try the next server.
   */
  async query(name: string, type: QueryType): Promise<Answer[]> {
    const errors: Error[] = [];
    for (const server of this.servers) {
      try {
        return await this.ask(server, name, type);
      } catch (err) {
        if (err instanceof NoSuchName) throw err;
        errors.push(new Error(`${label(server)}: ${(err as Error).message}`, { cause: err }));
      }
    }
    throw new AggregateError(errors, `no nameserver answered ${type} ${name} (${errors.map((e) => e.message).join('; ')})`);
  }

  private async ask(server: Nameserver, name: string, type: QueryType): Promise<Answer[]> {
    this.nextId = (this.nextId + 1) & 0xffff;
    const question: dnsPacket.Packet = {
      type: 'query',
      id: this.nextId,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type, name }],
    };
    this.sent.udp += 1;
    let res = await this.udp(server, question);
    if (res.flag_tc) {
      this.sent.tcp += 1;
      res = await this.tcp(server, question);
    }
    const rcode = (res.flags ?? 0) & 0xf;
    if (rcode === RCODE_NXDOMAIN) throw new NoSuchName(`${name} does not exist (NXDOMAIN from ${label(server)})`);
    if (rcode !== RCODE_NOERROR) throw new Error(`${RCODE_NAMES[rcode] ?? `rcode ${rcode}`}`);
    return (res.answers ?? []).filter((a) => a.type === type);
  }

  private udp(server: Nameserver, question: dnsPacket.Packet): Promise<DecodedPacket> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
      const timer = setTimeout(() => done(new Error(`no answer over UDP within ${this.timeoutMs} ms`)), this.timeoutMs);
      const done = (err: Error | null, res?: DecodedPacket): void => {
        clearTimeout(timer);
        socket.close();
        if (err) reject(err);
        else resolve(res as DecodedPacket);
      };
      socket.on('error', (err) => done(err));
      socket.on('message', (msg) => {
        let res: DecodedPacket;
        try {
          res = dnsPacket.decode(msg);
        } catch {
          return; // not a DNS packet: keep waiting for ours
        }
        if (res.id === question.id && res.type === 'response') done(null, res);
      });
      socket.send(dnsPacket.encode(question), server.port, server.host);
    });
  }

  private tcp(server: Nameserver, question: dnsPacket.Packet): Promise<DecodedPacket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(server.port, server.host);
      let buf = Buffer.alloc(0);
      const timer = setTimeout(() => done(new Error(`no answer over TCP within ${this.timeoutMs} ms`)), this.timeoutMs);
      const done = (err: Error | null, res?: DecodedPacket): void => {
        clearTimeout(timer);
        socket.destroy();
        if (err) reject(err);
        else resolve(res as DecodedPacket);
      };
      socket.on('error', (err) => done(err));
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        // Each TCP message carries a two-byte length first (RFC 1035 4.2.2).
        if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
        try {
          done(null, dnsPacket.streamDecode(buf) as DecodedPacket);
        } catch (err) {
          done(err as Error);
        }
      });
      socket.on('end', () => done(new Error('connection closed before a full answer')));
      socket.write(dnsPacket.streamEncode(question));
    });
  }
}

export function label(server: Nameserver): string {
  return net.isIPv6(server.host) ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

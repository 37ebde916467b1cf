/**
 * A TCP proxy in front of etcd that a test can cut (destroy every connection) or freeze (stop forwarding on
 * the connections open now while TCP stays up: a half-open peer). New connections after a freeze pass; after
 * hang() they are silent too, until resume(); after block() they are closed at once, until unblock() (a link
 * that is down). slow() delays every chunk, both ways, as a long link does.
 */
import net from 'node:net';

export class TcpProxy {
  private readonly server: net.Server;
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket; frozen: boolean }>();
  /** While true, new connections are accepted and then stay silent too: a member that vanished. */
  private hanging = false;
  /** While true, new connections are closed as soon as they are accepted. */
  private blocked = false;
  /** Milliseconds each chunk waits before it is forwarded. */
  private delayMs = 0;
  port = 0;

  private constructor(private readonly target: number) {
    this.server = net.createServer((client) => {
      if (this.blocked) {
        client.destroy();
        return;
      }
      const upstream = net.connect(this.target, '127.0.0.1');
      const pair = { client, upstream, frozen: this.hanging };
      this.pairs.add(pair);
      const forward = (from: net.Socket, to: net.Socket): void => {
        from.on('data', (chunk: Buffer) => {
          if (pair.frozen) return;
          // One delay for every chunk: the timers fire in the order they were set, so the stream stays in order.
          if (this.delayMs > 0) setTimeout(() => !pair.frozen && !to.destroyed && to.write(chunk), this.delayMs);
          else to.write(chunk);
        });
      };
      forward(client, upstream);
      forward(upstream, client);
      const close = (): void => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const p = new TcpProxy(targetPort);
    await new Promise<void>((r) => p.server.listen(0, '127.0.0.1', r));
    p.port = (p.server.address() as net.AddressInfo).port;
    return p;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get connections(): number {
    return this.pairs.size;
  }

  /** Destroys every open connection, as a network cut would. */
  cut(): void {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    this.pairs.clear();
  }

  /** Stops forwarding on every open connection; the sockets stay open and silent. */
  freeze(): void {
    for (const p of this.pairs) p.frozen = true;
  }

  /** freeze(), and every new connection is silent as well, until resume(): a half-open member. */
  hang(): void {
    this.hanging = true;
    this.freeze();
  }

  /** Ends hang(): the silent connections are cut, new ones pass again. */
  resume(): void {
    this.hanging = false;
    this.cut();
  }

  /** The link goes down: every connection is cut, and new ones are closed at once, until unblock(). */
  block(): void {
    this.blocked = true;
    this.cut();
  }

  unblock(): void {
    this.blocked = false;
  }

  /** Every chunk from now on waits `ms` before it is forwarded, in both directions (0: no delay). */
  slow(ms: number): void {
    this.delayMs = ms;
  }

  async stop(): Promise<void> {
    // Stop accepting first, so no connection slips in after the cut and keeps close() waiting.
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.cut();
    await closed;
  }
}

/** A TCP listener that accepts every connection and never says a word: a black-holed member. */
export class BlackHole {
  private readonly sockets = new Set<net.Socket>();
  private readonly server = net.createServer((s) => {
    this.sockets.add(s);
    // Reads (and drops) what it is sent, so that it sees the peer close.
    s.resume();
    s.on('error', () => undefined).on('close', () => this.sockets.delete(s));
  });
  port = 0;

  static async start(): Promise<BlackHole> {
    const b = new BlackHole();
    await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', r));
    b.port = (b.server.address() as net.AddressInfo).port;
    return b;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Connections accepted and still open. */
  get connections(): number {
    return this.sockets.size;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

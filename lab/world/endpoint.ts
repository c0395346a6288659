import net from 'node:net';

/** Resolves a record name to the loopback port of the node it names, with the record's TTL. */
export type RecordResolver = () => Promise<{ ports: number[]; ttlSec: number; targets: string[] }>;

/**
 * A loopback endpoint standing in for a client that connects to a Route 53
 * private record: each NEW connection goes to the node the record names, and
 * the answer is cached for the record's TTL, as a stub resolver would.
 * Established connections are never moved: a flip only affects new ones.
 */
export class RecordEndpoint {
  private server: net.Server | undefined;
  private cache: { ports: number[]; targets: string[]; until: number } | undefined;
  private rr = 0;
  private readonly conns = new Set<net.Socket>();

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly resolve: RecordResolver,
    private readonly log: (msg: string) => void,
  ) {}

  /** The targets last resolved (record values), for status. */
  get targets(): string[] {
    return this.cache?.targets ?? [];
  }

  /** Starts listening. */
  async listen(): Promise<void> {
    const server = net.createServer((sock) => {
      void this.accept(sock);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  /** Forgets the cached answer (tests use it to skip the TTL wait). */
  flush(): void {
    this.cache = undefined;
  }

  /** Stops listening and closes every forwarded connection. */
  async close(): Promise<void> {
    for (const s of this.conns) s.destroy();
    const server = this.server;
    if (server?.listening) await new Promise<void>((r) => server.close(() => r()));
  }

  /** Current answer, from the cache while the TTL holds. */
  async lookup(): Promise<{ ports: number[]; targets: string[] }> {
    const now = Date.now();
    if (this.cache && this.cache.until > now) return this.cache;
    try {
      const ans = await this.resolve();
      this.cache = { ...ans, until: now + ans.ttlSec * 1000 };
    } catch (err) {
      // Resolver down: keep serving the last answer, as a stub resolver with serve-stale would.
      if (!this.cache) throw err;
      this.log(`${this.name}: resolve failed, serving stale answer: ${(err as Error).message}`);
    }
    return this.cache!;
  }

  private async accept(client: net.Socket): Promise<void> {
    client.on('error', () => client.destroy());
    let port: number | undefined;
    try {
      const { ports } = await this.lookup();
      port = ports[this.rr++ % Math.max(ports.length, 1)];
    } catch {
      port = undefined;
    }
    if (port === undefined || client.destroyed) {
      client.destroy();
      return;
    }
    const upstream = net.connect(port, '127.0.0.1');
    this.conns.add(client);
    const done = () => {
      this.conns.delete(client);
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', done);
    client.on('close', done);
    upstream.on('close', done);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

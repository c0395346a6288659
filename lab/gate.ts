import net from 'node:net';
import type { GatePath, LabNodeSpec } from './topology';

/** What a gate knows about its node's security group. */
export interface SgView {
  /** True while an ingress rule covers the PostgreSQL port. */
  open: boolean;
  /** True when the last poll of the emulator failed: the gate keeps its last known state (fail static). */
  stale: boolean;
}

/**
 * A TCP gate in front of one node: one loopback listener per network path
 * (clients, replication, each probe AZ). Like an ENI behind a security group,
 * it admits a NEW connection only while the node's SG allows the port, and,
 * like EC2 connection tracking, keeps established connections after a revoke.
 * `sever` closes them (the fence's job); `cut` models a partition of one path.
 */
export class Gate {
  private readonly servers = new Map<GatePath, net.Server>();
  private readonly conns = new Map<GatePath, Set<net.Socket>>();
  private readonly cutPaths = new Set<GatePath>();
  sg: SgView = { open: true, stale: false };
  /** Counters for status and tests. */
  refused = 0;

  constructor(
    readonly spec: LabNodeSpec,
    private readonly log: (msg: string) => void,
  ) {}

  /** Opens every path's listener. Rejects (and closes what it opened) when a port is taken. */
  async listen(): Promise<void> {
    try {
      for (const [p, port] of Object.entries(this.spec.gatePorts) as [GatePath, number][]) {
        const server = net.createServer((sock) => this.accept(p, sock));
        this.servers.set(p, server);
        this.conns.set(p, new Set());
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, '127.0.0.1', () => resolve());
        });
      }
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Established connections per path. */
  connectionCounts(): Record<string, number> {
    return Object.fromEntries([...this.conns].map(([p, s]) => [p, s.size]));
  }

  /** Total established connections through this gate. */
  get connectionCount(): number {
    let n = 0;
    for (const s of this.conns.values()) n += s.size;
    return n;
  }

  /** Paths currently partitioned. */
  get cut(): GatePath[] {
    return [...this.cutPaths];
  }

  /** Closes every established connection on every path; returns how many were closed. */
  sever(): number {
    let n = 0;
    for (const set of this.conns.values()) {
      for (const s of set) {
        s.destroy();
        n++;
      }
      set.clear();
    }
    if (n) this.log(`gate ${this.spec.name}: severed ${n} connection(s)`);
    return n;
  }

  /** Partitions one path: new connections refused, established ones dropped (as a real partition eventually does). */
  cutPath(p: GatePath): void {
    this.cutPaths.add(p);
    const set = this.conns.get(p);
    if (set) {
      for (const s of set) s.destroy();
      set.clear();
    }
  }

  /** Heals a partitioned path. */
  healPath(p: GatePath): void {
    this.cutPaths.delete(p);
  }

  /** Stops listening and closes everything. */
  async close(): Promise<void> {
    this.sever();
    await Promise.all(
      [...this.servers.values()].map(
        (s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve())),
      ),
    );
    this.servers.clear();
  }

  private accept(p: GatePath, client: net.Socket): void {
    if (!this.sg.open || this.cutPaths.has(p)) {
      this.refused++;
      // An immediate reset is what a client sees from a REJECT; the fence needs "refused", not a hang.
      client.resetAndDestroy();
      return;
    }
    const set = this.conns.get(p)!;
    const upstream = net.connect(this.spec.pgPort, '127.0.0.1');
    set.add(client);
    const done = () => {
      set.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', done);
    upstream.on('error', done);
    client.on('close', done);
    upstream.on('close', done);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

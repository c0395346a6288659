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
 * How a cut path behaves.
 * - `reset`: new connections are refused and established ones closed (what a
 *   REJECT rule or a host that lost its peer eventually shows). Fast to notice.
 * - `blackhole`: packets vanish: new connections hang (never reach PostgreSQL)
 *   and established ones stop moving bytes without being closed, so each side
 *   only notices through its own timeouts (connect_timeout, wal_receiver_timeout,
 *   keepalives). Healing lets held connections through, like a retried SYN.
 */
export type CutMode = 'reset' | 'blackhole';

interface Conn {
  client: net.Socket;
  upstream?: net.Socket;
  /** True while bytes are deliberately not forwarded (blackhole). */
  held: boolean;
  /** The server side died while the connection was held: a lost host sends no FIN, so the client still hangs. */
  upstreamLost?: boolean;
}

/**
 * A TCP gate in front of one node: one loopback listener per network path
 * (clients, replication, each probe AZ). Like an ENI behind a security group,
 * it admits a NEW connection only while the node's SG allows the port, and,
 * like EC2 connection tracking, keeps established connections after a revoke.
 * `sever` closes them (the fence's job); `cutPath` models a partition of one path.
 */
export class Gate {
  private readonly servers = new Map<GatePath, net.Server>();
  private readonly conns = new Map<GatePath, Set<Conn>>();
  private readonly cutPaths = new Map<GatePath, CutMode>();
  sg: SgView = { open: true, stale: false };
  /** Connections refused since start (SG closed or path cut), for status and tests. */
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
    return [...this.cutPaths.keys()];
  }

  /** Paths currently partitioned, with their mode. */
  get cutModes(): Partial<Record<GatePath, CutMode>> {
    return Object.fromEntries(this.cutPaths);
  }

  /** Closes every established connection (on every path, or only on `paths`); returns how many were closed. */
  sever(paths: readonly GatePath[] = [...this.conns.keys()]): number {
    let n = 0;
    for (const p of paths) {
      const set = this.conns.get(p);
      if (!set) continue;
      for (const c of set) {
        this.destroy(c);
        n++;
      }
      set.clear();
    }
    if (n) this.log(`gate ${this.spec.name}: severed ${n} connection(s)`);
    return n;
  }

  /** Partitions one path (see CutMode). */
  cutPath(p: GatePath, mode: CutMode = 'reset'): void {
    this.cutPaths.set(p, mode);
    const set = this.conns.get(p);
    if (!set) return;
    for (const c of set) {
      if (mode === 'reset') {
        this.destroy(c);
        set.delete(c);
      } else {
        this.hold(c);
      }
    }
    this.log(`gate ${this.spec.name}: path ${p} cut (${mode})`);
  }

  /** Heals a partitioned path: held connections resume (or connect upstream, if they never did). */
  healPath(p: GatePath): void {
    if (!this.cutPaths.delete(p)) return;
    for (const c of this.conns.get(p) ?? []) if (c.held) this.forward(p, c);
    this.log(`gate ${this.spec.name}: path ${p} healed`);
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
    const cut = this.cutPaths.get(p);
    if (cut !== 'blackhole' && (!this.sg.open || cut === 'reset')) {
      this.refused++;
      // An immediate reset is what a client sees from a REJECT; the fence needs "refused", not a hang.
      client.resetAndDestroy();
      return;
    }
    const set = this.conns.get(p)!;
    const c: Conn = { client, held: false };
    set.add(c);
    const done = () => {
      set.delete(c);
      this.destroy(c);
    };
    client.on('error', done);
    client.on('close', done);
    if (cut === 'blackhole') this.hold(c);
    else this.forward(p, c);
  }

  /** Starts (or resumes) moving bytes both ways. */
  private forward(p: GatePath, c: Conn): void {
    c.held = false;
    if (c.upstreamLost) {
      // The host came back without this connection's state: its next segment is answered with a reset.
      this.conns.get(p)?.delete(c);
      c.client.resetAndDestroy();
      return;
    }
    if (!c.upstream) {
      // A SYN held by a blackhole: the SG is checked when it finally gets through.
      if (!this.sg.open) {
        this.refused++;
        this.conns.get(p)?.delete(c);
        c.client.resetAndDestroy();
        return;
      }
      const upstream = net.connect(this.spec.pgPort, '127.0.0.1');
      c.upstream = upstream;
      const done = () => {
        if (c.held) {
          c.upstreamLost = true;
          return;
        }
        this.conns.get(p)?.delete(c);
        this.destroy(c);
      };
      upstream.on('error', done);
      upstream.on('close', done);
    }
    c.client.pipe(c.upstream);
    c.upstream.pipe(c.client);
    c.client.resume();
    c.upstream.resume();
  }

  /** Stops moving bytes without closing anything (blackhole). */
  private hold(c: Conn): void {
    c.held = true;
    c.client.unpipe();
    c.upstream?.unpipe();
    c.client.pause();
    c.upstream?.pause();
  }

  private destroy(c: Conn): void {
    c.client.destroy();
    c.upstream?.destroy();
  }
}

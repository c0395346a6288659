import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupsCommand,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import { Client, type ClientConfig } from 'pg';
import { LAB_DIR, REPO_ROOT, STATE_FILE, SUPERVISOR_LOG } from './paths';
import type { ReplicationMode } from './postgres-node';
import { labClients, PG_INGRESS } from './seed';
import { type LabState, readLabState } from './state';
import { type GatePath, LAB_DB_NAME, LAB_DB_PASSWORD, LAB_DB_USER, labPorts } from './topology';

export { type LabState, readLabState } from './state';
export * from './topology';

/** Options of `Lab.up`. */
export interface LabUpOptions {
  /** Asynchronous replication instead of quorum sync. */
  async?: boolean;
  /** Shifts every lab port (default 55400, or PGQ_LAB_PORT_BASE). */
  portBase?: number;
  /** Receives one line per bring-up phase. */
  onProgress?: (msg: string) => void;
  timeoutMs?: number;
}

/** One node's row in `lab status`. */
export interface NodeStatus {
  name: string;
  az: string;
  up: boolean;
  role: 'primary' | 'replica' | 'down';
  timeline: number | null;
  lsn: string | null;
  lagBytes: number | null;
  syncState: string | null;
  upstream: string | null;
  gateOpen: boolean;
  gateStale: boolean;
  gateConnections: number;
  cutPaths: string[];
}

/** The whole lab's status. */
export interface LabStatus {
  mode: ReplicationMode;
  nodes: NodeStatus[];
  writer: string[];
  reader: string[];
  emulator: { port: number; healthy: boolean };
}

/** The error every lab call raises: one clear line. */
export class LabError extends Error {
  override name = 'LabError';
}

async function control<T>(port: number, route: string, body: object = {}, timeoutMs = 120000): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`http://127.0.0.1:${port}${route}`, {
      method: 'POST',
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new LabError(
      `the lab supervisor does not answer on port ${port} (${(err as Error).message}): is the lab up?`,
    );
  }
  const json = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new LabError(json.error ?? `lab ${route} failed (${res.status})`);
  return json;
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The local HA lab: three real PostgreSQL 15 nodes, the AWS emulator, a gate
 * per node and writer/reader endpoints, all owned by a detached supervisor
 * process. This class is the API tests, the demo, the bench and the CLI use.
 */
export class Lab {
  private constructor(readonly state: LabState) {}

  /** Brings the lab up, or attaches to the one already running (idempotent). */
  static async up(opts: LabUpOptions = {}): Promise<Lab> {
    const running = await Lab.tryAttach();
    if (running) {
      opts.onProgress?.(`lab already running (supervisor ${running.state.supervisorPid})`);
      return running;
    }
    await Lab.cleanupStale();
    const portBase = opts.portBase ?? Number(process.env.PGQ_LAB_PORT_BASE ?? 55400);
    const supervisorOpts = { portBase, controlPort: portBase + 1, mode: opts.async ? 'async' : 'sync' };
    fs.mkdirSync(LAB_DIR, { recursive: true, mode: 0o755 });
    fs.chmodSync(LAB_DIR, 0o755);
    const logStart = fs.existsSync(SUPERVISOR_LOG) ? fs.statSync(SUPERVISOR_LOG).size : 0;
    const out = fs.openSync(path.join(LAB_DIR, 'supervisor.out'), 'a');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'lab', 'supervisor.ts'), JSON.stringify(supervisorOpts)],
      { cwd: REPO_ROOT, detached: true, stdio: ['ignore', out, out], env: { ...process.env } },
    );
    fs.closeSync(out);
    child.unref();
    const deadline = Date.now() + (opts.timeoutMs ?? 120000);
    let seen = 0;
    for (;;) {
      const lines = fs.existsSync(SUPERVISOR_LOG)
        ? fs.readFileSync(SUPERVISOR_LOG, 'utf8').slice(logStart).split('\n').filter(Boolean)
        : [];
      for (const line of lines.slice(seen)) {
        const m = / (progress|fatal): (.*)$/.exec(line);
        if (m?.[1] === 'progress') opts.onProgress?.(m[2]!);
        if (m?.[1] === 'fatal') throw new LabError(`lab up failed: ${m[2]}`);
      }
      seen = lines.length;
      if (lines.some((l) => l.endsWith('progress: ready'))) break;
      if (!alive(child.pid)) throw new LabError(`lab supervisor exited during start: see ${SUPERVISOR_LOG}`);
      if (Date.now() > deadline) {
        try {
          process.kill(child.pid!, 'SIGTERM');
        } catch {
          // already gone
        }
        throw new LabError(`lab did not come up in time: see ${SUPERVISOR_LOG}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return Lab.attach();
  }

  /** Attaches to the running lab; a clear error when there is none. */
  static async attach(): Promise<Lab> {
    const lab = await Lab.tryAttach();
    if (!lab)
      throw new LabError(`no lab is running (no healthy supervisor behind ${STATE_FILE}): run \`npm run lab -- up\``);
    return lab;
  }

  private static async tryAttach(): Promise<Lab | undefined> {
    const st = readLabState();
    if (!st || !alive(st.supervisorPid)) return undefined;
    try {
      const h = await control<{ ready: boolean }>(st.controlPort, '/health', {}, 2000);
      return h.ready ? new Lab(st) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Kills whatever a dead supervisor left behind, by the PIDs it recorded. */
  private static async cleanupStale(): Promise<void> {
    const st = readLabState();
    if (!st) return;
    for (const pid of [st.supervisorPid, ...Object.values(st.pids)]) {
      if (alive(pid)) {
        try {
          process.kill(pid!, 'SIGKILL');
        } catch {
          // raced with its exit
        }
      }
    }
    fs.rmSync(STATE_FILE, { force: true });
  }

  /** Stops everything the lab started and waits until every process is gone. */
  static async down(): Promise<void> {
    const st = readLabState();
    if (!st) return;
    if (alive(st.supervisorPid)) {
      await control(st.controlPort, '/down', {}, 5000).catch(() => undefined);
      const deadline = Date.now() + 30000;
      while (alive(st.supervisorPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    }
    await Lab.cleanupStale();
  }

  /** Instance form of Lab.down(). */
  down(): Promise<void> {
    return Lab.down();
  }

  private call<T>(route: string, body: object = {}): Promise<T> {
    return control<T>(this.state.controlPort, route, body);
  }

  /** Environment variables that point an AWS SDK client at the lab's emulator. */
  get awsEnv(): Record<string, string> {
    return this.state.aws;
  }

  /** Seeded AWS ids (VPC, subnets, instances, security groups, hosted zone). */
  get ids(): LabState['ids'] {
    return this.state.ids;
  }

  /** Loopback endpoints that follow the Route 53 writer and reader records. */
  get endpoints(): { writer: { host: string; port: number }; reader: { host: string; port: number } } {
    return {
      writer: { host: '127.0.0.1', port: this.state.ports.writer },
      reader: { host: '127.0.0.1', port: this.state.ports.reader },
    };
  }

  /** Names of the lab's nodes. */
  get nodeNames(): string[] {
    return this.state.ports.nodes.map((n) => n.name);
  }

  private spec(node: string) {
    const s = this.state.ports.nodes.find((n) => n.name === node);
    if (!s) throw new LabError(`unknown node '${node}' (expected one of ${this.nodeNames.join(', ')})`);
    return s;
  }

  /** pg connection options for a node through one path of its gate (as the controller or a client sees it). */
  nodeConnection(node: string, gatePath: GatePath = 'client'): ClientConfig & { host: string; port: number } {
    return {
      host: '127.0.0.1',
      port: this.spec(node).gatePorts[gatePath],
      user: LAB_DB_USER,
      password: LAB_DB_PASSWORD,
      database: LAB_DB_NAME,
    };
  }

  /** pg connection options straight to a node's postmaster, bypassing its gate (lab housekeeping and status). */
  directConnection(node: string): ClientConfig & { host: string; port: number } {
    return { ...this.nodeConnection(node), port: this.spec(node).pgPort };
  }

  /** pg connection options for the writer (or reader) endpoint. */
  endpointConnection(which: 'writer' | 'reader' = 'writer'): ClientConfig & { host: string; port: number } {
    return { ...this.nodeConnection('pg1'), port: this.endpoints[which].port };
  }

  /** SIGKILL the node's postmaster (a crash). */
  async kill(node: string): Promise<void> {
    this.spec(node);
    await this.call('/kill', { node });
    await this.call('/pg-wait-exit', { node });
  }

  /** SIGSTOP the node's postmaster (a hang: TCP still accepts, nothing answers). */
  async stop(node: string): Promise<void> {
    await this.call('/stop', { node });
  }

  /** SIGCONT a stopped node. */
  async cont(node: string): Promise<void> {
    await this.call('/cont', { node });
  }

  /** Starts a node's postmaster (after kill or stop) and waits until it accepts connections. */
  async pgStart(node: string): Promise<void> {
    await this.call('/pg-start', { node });
  }

  /** Stops a node's postmaster cleanly (fast) or not (immediate). */
  async pgStop(node: string, mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.call('/pg-stop', { node, mode });
  }

  /** Opens or closes the node's security group in the emulator (the gate follows within ~150 ms). */
  async setSecurityGroup(node: string, open: boolean): Promise<void> {
    const { ec2 } = labClients(this.state.ports.emulator);
    const GroupId = this.ids.nodes[this.spec(node).name]!.securityGroupId;
    const cur = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [GroupId] }));
    const perms = cur.SecurityGroups?.[0]?.IpPermissions ?? [];
    if (open && perms.length === 0) {
      await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId, IpPermissions: [PG_INGRESS] }));
    } else if (!open && perms.length > 0) {
      await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId, IpPermissions: perms }));
    }
  }

  /** Closes every established connection through the node's gate; returns how many. */
  async sever(node: string): Promise<number> {
    return (await this.call<{ severed: number }>('/sever', { node })).severed;
  }

  /** Partitions one network path to a node. */
  async cut(node: string, gatePath: GatePath): Promise<void> {
    await this.call('/cut', { node, path: gatePath });
  }

  /** Heals a partitioned path. */
  async heal(node: string, gatePath: GatePath): Promise<void> {
    await this.call('/heal', { node, path: gatePath });
  }

  /** Makes the endpoints forget their cached record answers (skips the TTL wait). */
  async flushDns(): Promise<void> {
    await this.call('/flush-dns');
  }

  /** Stops the emulator (state is lost: call reset() after starting it again). */
  async emulatorStop(): Promise<void> {
    await this.call('/emulator-stop');
  }

  /** Starts the emulator again. */
  async emulatorStart(): Promise<void> {
    await this.call('/emulator-start');
  }

  /** Back to baseline: pg1 primary, pg2/pg3 streaming, SGs open, paths healed, writer -> pg1, lease steady at epoch 1. */
  async reset(): Promise<void> {
    await this.call('/reset');
  }

  /** Gate and endpoint view from the supervisor. */
  async gates(): Promise<Record<string, { sgOpen: boolean; sgStale: boolean; connections: number; cut: string[] }>> {
    return this.call('/gates');
  }

  /** One row per node plus record targets. */
  async status(): Promise<LabStatus> {
    const [gates, endpoints, emulatorHealthy] = await Promise.all([
      this.gates(),
      this.call<Record<string, string[]>>('/endpoints'),
      fetch(`http://127.0.0.1:${this.state.ports.emulator}/_ministack/health`, {
        signal: AbortSignal.timeout(1000),
      }).then(
        (r) => r.ok,
        () => false,
      ),
    ]);
    const raw = await Promise.all(this.nodeNames.map((n) => this.queryNode(n)));
    const primaryLsn = raw.find((r) => r.role === 'primary')?.lsn ?? null;
    const syncByName = new Map<string, string>();
    for (const r of raw) for (const [k, v] of Object.entries(r.standbys)) syncByName.set(k, v);
    const nodes: NodeStatus[] = raw.map((r) => {
      const g = gates[r.name]!;
      return {
        name: r.name,
        az: this.spec(r.name).az,
        up: r.role !== 'down',
        role: r.role,
        timeline: r.timeline,
        lsn: r.lsn,
        lagBytes:
          r.role === 'replica' && primaryLsn && r.lsn
            ? Math.max(0, lsnToNumber(primaryLsn) - lsnToNumber(r.lsn))
            : r.role === 'primary'
              ? 0
              : null,
        syncState: r.role === 'replica' ? (syncByName.get(r.name) ?? 'not streaming') : null,
        upstream: r.upstream,
        gateOpen: g.sgOpen,
        gateStale: g.sgStale,
        gateConnections: g.connections,
        cutPaths: g.cut,
      };
    });
    return {
      mode: this.state.mode,
      nodes,
      writer: endpoints.writer ?? [],
      reader: endpoints.reader ?? [],
      emulator: { port: this.state.ports.emulator, healthy: emulatorHealthy },
    };
  }

  private async queryNode(name: string) {
    const c = new Client({ ...this.directConnection(name), connectionTimeoutMillis: 1000, statement_timeout: 1000 });
    const down = {
      name,
      role: 'down' as const,
      timeline: null,
      lsn: null,
      upstream: null,
      standbys: {} as Record<string, string>,
    };
    const timer = setTimeout(() => {
      // A SIGSTOPped node accepts TCP but never answers: cut the wait short.
      (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    }, 1500);
    try {
      await c.connect();
      const r = await c.query(
        `SELECT pg_is_in_recovery() AS rec,
                CASE WHEN pg_is_in_recovery() THEN (SELECT timeline_id FROM pg_control_checkpoint())
                     -- the control file lags a fresh promotion; the current WAL file name does not
                     ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS cp_tli,
                CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text ELSE pg_current_wal_lsn()::text END AS lsn,
                (SELECT received_tli FROM pg_stat_wal_receiver) AS recv_tli,
                (SELECT sender_port FROM pg_stat_wal_receiver) AS sender_port`,
      );
      const row = r.rows[0];
      const standbys: Record<string, string> = {};
      if (!row.rec) {
        const s = await c.query('SELECT application_name, sync_state, state FROM pg_stat_replication');
        for (const x of s.rows) standbys[x.application_name] = x.state === 'streaming' ? x.sync_state : x.state;
      }
      const upstream = row.sender_port
        ? (this.state.ports.nodes.find((n) => Object.values(n.gatePorts).includes(Number(row.sender_port)))?.name ??
          null)
        : null;
      const tli = row.rec ? Number(row.recv_tli ?? row.cp_tli) : Number(row.cp_tli);
      return {
        name,
        role: row.rec ? ('replica' as const) : ('primary' as const),
        timeline: tli,
        lsn: row.lsn as string,
        upstream,
        standbys,
      };
    } catch {
      return down;
    } finally {
      clearTimeout(timer);
      await c.end().catch(() => undefined);
    }
  }
}

function lsnToNumber(lsn: string): number {
  const [hi, lo] = lsn.split('/');
  return Number.parseInt(hi!, 16) * 2 ** 32 + Number.parseInt(lo!, 16);
}

/** The lab's ports for a port base, without a running lab (for docs and preflight). */
export { labPorts };

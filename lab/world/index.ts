/**
 * The local HA lab as a TypeScript API: tests, the demo, the bench and the CLI
 * drive it through `Lab`. Everything that must outlive one call (emulator,
 * postmasters, gates, endpoints) belongs to a detached supervisor process
 * (lab/world/supervisor.ts) with a JSON control API on 127.0.0.1:<portBase + 1>:
 * POST /health, /gates, /endpoints, /kill, /stop, /cont, /pg-start, /pg-stop
 * {node, mode}, /pg-wait-exit, /sever {node, path?}, /cut {node, path, mode?},
 * /heal, /flush-dns, /set-writer, /emulator-stop|start|pause|resume, /reset, /down;
 * the cloud profile's: /emulator-slow {ms}, /aws-proxy, /fault-arm {task, times}, /fault-take {task}, /faults;
 * host faults: /host-loss {node, instance}, /hung-host {node}, /heal-host {node}, /hosts, /ssm-invocations.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupsCommand,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import type { ClientConfig } from 'pg';
import { TASKS, type TaskName } from '../../infra/constructs/tasks';
import { quietNode20Warning } from '../../lambdas/adapters/aws/clients';
import { PgNodeAdapter, parsePgConfig, pgSsl } from '../../lambdas/adapters/postgres/pg-node-adapter';
import { lsnDiff } from '../../lambdas/core/lsn';
import type { TrackedChange } from './aws-proxy';
import { type CloudProfile, type CloudProfileName, cloudProfile } from './cloud-profile';
import { ensureEmulatorInstalled } from './emulator';
import { LabError } from './errors';
import type { CutMode } from './gate';
import { DEPLOYMENT_FILE, LAB_DIR, nodeDataDir, OUTPUTS_FILE, REPO_ROOT, STATE_FILE, SUPERVISOR_LOG } from './paths';
import type { ReplicationMode } from './postgres-node';
import { acquireLock, preflight } from './preflight';
import { childPids, groupMembers, isAlive, pssKiB, rssKiB, signalQuietly, waitGone } from './procs';
import { labClients, PG_INGRESS } from './seed';
import { type LabState, readLabState } from './state';
import { labCaPem } from './tls';
import {
  EPHEMERAL_PORT_RANGE,
  type GatePath,
  LAB_DB_NAME,
  LAB_DB_PASSWORD,
  LAB_DB_USER,
  LAB_DEFAULT_PORT_BASE,
  labPorts,
} from './topology';

export { LabError } from './errors';
export type { CutMode } from './gate';
export type { ReplicationMode } from './postgres-node';
export type { SeededIds } from './seed';
export { type LabState, readLabState } from './state';
export { LAB_CA_FILE, labCaPem, makeCa, makeServerCert } from './tls';
export * from './topology';

/** Options of `Lab.up`. */
export interface LabUpOptions {
  /** Asynchronous replication instead of quorum sync. */
  async?: boolean;
  /** The cloud-behaviour profile (default ideal): a name, or a whole profile with shortened delays. */
  cloud?: CloudProfileName | CloudProfile;
  /** Shifts every lab port (default LAB_DEFAULT_PORT_BASE = 21400, or PGQ_LAB_PORT_BASE). */
  portBase?: number;
  /** Receives one line per bring-up phase. */
  onProgress?: (msg: string) => void;
  /** Give up bringing the lab up after this long (default 120 s). */
  timeoutMs?: number;
  /** Recorded in state.json: who started the lab (default `cli`; the jest setup passes `tests`). */
  origin?: string;
}

/** The fault switch's state: faults still armed per task, and every completed task invocation the shim reported. */
export interface LabFaults {
  armed: Record<string, number>;
  /** In order; `failed` marks the invocations the switch failed after their work was done. */
  log: { task: string; at: number; failed: boolean }[];
}

/** What the lab's AWS endpoint (the proxy in front of the emulator) has seen and is doing. */
export interface AwsProxyStatus {
  cloud: CloudProfileName;
  slowMs: number;
  /** Calls forwarded per service (from the SigV4 credential scope). */
  calls: Record<string, number>;
  /** Route 53 changes that went through it, with when each propagates. */
  route53Changes: TrackedChange[];
}

/** One node's row in `lab status`. */
export interface NodeStatus {
  name: string;
  az: string;
  up: boolean;
  /** `stopped`: frozen by stop() (SIGSTOP); `down`: not running or not answering. */
  role: 'primary' | 'replica' | 'down' | 'stopped';
  timeline: number | null;
  lsn: string | null;
  lagBytes: number | null;
  syncState: string | null;
  upstream: string | null;
  gateOpen: boolean;
  gateStale: boolean;
  gateConnections: number;
  cutPaths: string[];
  /** Postmaster PID (null when not running). */
  pid: number | null;
}

/** A host fault's kind, as `hosts()` reports it. */
export interface HostStatus {
  /** What the node's SSM agent can do: `lost` never picks a command up; `stopped`: InvalidInstanceId. */
  agent: 'online' | 'lost' | 'stopped';
  /** The emulator's EC2 instance state as the lab last followed it. */
  instance: 'running' | 'stopped';
  fault: { kind: 'host-loss' | 'hung-host'; instance?: 'running' | 'stopped'; since: string } | null;
}

/** The whole lab's status. */
export interface LabStatus {
  mode: ReplicationMode;
  /** The cloud-behaviour profile the lab models. */
  cloud: CloudProfileName;
  nodes: NodeStatus[];
  writer: string[];
  reader: string[];
  emulator: { port: number; healthy: boolean };
  /** Memory of every lab process (supervisor, emulator, all PostgreSQL processes), in MiB: RSS sum and PSS sum. */
  rssMiB: number;
  pssMiB: number;
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

const alive = isAlive;

/**
 * How long attaching keeps asking a live supervisor before it gives up.
 * @default 30000
 */
export const ATTACH_DEADLINE_MS = Number(process.env.PGQ_LAB_ATTACH_MS ?? 30000);
const UP_LOCK = path.join(LAB_DIR, 'up.lock');

/**
 * The local HA lab: three real PostgreSQL 15 nodes, the AWS emulator, a gate
 * per node and writer/reader endpoints, all owned by a detached supervisor
 * process. This class is the API tests, the demo, the bench and the CLI use.
 */
export class Lab {
  private constructor(private snapshot: LabState) {}

  /**
   * The running lab's description. Re-read from .lab/state.json on each access
   * so PIDs (after kill/start) and seeded ids (after an emulator restart + reset)
   * stay current; the last good copy is kept when the lab has gone.
   */
  get state(): LabState {
    const fresh = readLabState();
    if (fresh?.ready && fresh.supervisorPid === this.snapshot.supervisorPid) this.snapshot = fresh;
    return this.snapshot;
  }

  /**
   * Brings the lab up, or attaches to the one already running (idempotent).
   * Binaries and ports are checked before anything starts; on any failure the
   * supervisor tears down what it started before this rejects. Concurrent calls
   * (two test runs) serialize on a lock file: the second one attaches.
   */
  static async up(opts: LabUpOptions = {}): Promise<Lab> {
    quietNode20Warning();
    fs.mkdirSync(LAB_DIR, { recursive: true, mode: 0o755 });
    fs.chmodSync(LAB_DIR, 0o755);
    const release = await acquireLock(UP_LOCK, {
      timeoutMs: (opts.timeoutMs ?? 120000) + 30000,
      onWait: (pid) => opts.onProgress?.(`waiting for another \`lab up\` (pid ${pid})`),
    });
    try {
      return await Lab.upLocked(opts);
    } finally {
      release();
    }
  }

  private static async upLocked(opts: LabUpOptions): Promise<Lab> {
    const portBase = opts.portBase ?? Number(process.env.PGQ_LAB_PORT_BASE ?? LAB_DEFAULT_PORT_BASE);
    const mode: ReplicationMode = opts.async ? 'async' : 'sync';
    const running = await Lab.tryAttach();
    if (running) {
      if (running.state.portBase !== portBase) {
        throw new LabError(
          `a lab is already running on port base ${running.state.portBase}, not ${portBase}: run \`npm run lab -- down\` first`,
        );
      }
      if (opts.async !== undefined && running.state.mode !== mode) {
        throw new LabError(
          `a lab is already running with ${running.state.mode} replication, not ${mode}: run \`npm run lab -- down\` first`,
        );
      }
      const wantCloud = typeof opts.cloud === 'object' ? opts.cloud.name : opts.cloud;
      // A whole profile (the tests' shortened aws) must match whole: the same name with other delays is another lab.
      const sameFigures =
        typeof opts.cloud !== 'object' || JSON.stringify(opts.cloud) === JSON.stringify(running.cloud);
      if (wantCloud !== undefined && (running.cloud.name !== wantCloud || !sameFigures)) {
        throw new LabError(
          `a lab is already running with the ${running.cloud.name} cloud profile${sameFigures ? '' : ' (other figures)'}, not ${wantCloud}: run \`npm run lab -- down\` first`,
        );
      }
      opts.onProgress?.(`lab already running (supervisor ${running.state.supervisorPid}), attached`);
      return running;
    }
    await Lab.cleanupStale();
    const ports = labPorts(portBase);
    const controlPort = portBase + 1;
    opts.onProgress?.('checking PostgreSQL binaries, the postgres user and free ports');
    const [lo, hi] = EPHEMERAL_PORT_RANGE;
    if (portBase + 90 >= lo && portBase <= hi) {
      opts.onProgress?.(
        `warning: port base ${portBase} lies in the ephemeral range ${lo}-${hi}; outgoing connections may take lab ports`,
      );
    }
    await preflight(ports, controlPort);
    // Installing is the only slow step that can fail for reasons outside the lab: do it
    // in the foreground, where pip's error reaches the caller.
    ensureEmulatorInstalled(opts.onProgress);
    const cloud = typeof opts.cloud === 'object' ? opts.cloud : cloudProfile(opts.cloud ?? 'ideal');
    const supervisorOpts = { portBase, controlPort, mode, cloud, origin: opts.origin ?? 'cli' };
    const logStart = fs.existsSync(SUPERVISOR_LOG) ? fs.statSync(SUPERVISOR_LOG).size : 0;
    const out = fs.openSync(path.join(LAB_DIR, 'supervisor.out'), 'w');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'lab', 'world', 'supervisor.ts'), JSON.stringify(supervisorOpts)],
      // detached: its own session and process group, so it outlives the CLI (and a Ctrl-C to it),
      // and `down` can sweep the whole group.
      { cwd: REPO_ROOT, detached: true, stdio: ['ignore', out, out], env: { ...process.env } },
    );
    fs.closeSync(out);
    child.unref();
    const pid = child.pid!;
    const deadline = Date.now() + (opts.timeoutMs ?? 120000);
    let seen = 0;
    const failed = async (msg: string): Promise<never> => {
      // Leave nothing half-started: the supervisor cleans up on fatal; wait for it, then sweep.
      if (!(await waitGone([pid], 20000))) signalQuietly(pid, 'SIGTERM');
      await waitGone([pid], 15000);
      await Lab.cleanupStale(pid);
      throw new LabError(msg);
    };
    for (;;) {
      const lines = fs.existsSync(SUPERVISOR_LOG)
        ? fs.readFileSync(SUPERVISOR_LOG, 'utf8').slice(logStart).split('\n').filter(Boolean)
        : [];
      for (const line of lines.slice(seen)) {
        const m = / (progress|fatal): (.*)$/.exec(line);
        if (m?.[1] === 'progress' && m[2] !== 'ready') opts.onProgress?.(m[2]!);
        if (m?.[1] === 'fatal') return failed(`lab up failed: ${m[2]}`);
      }
      seen = lines.length;
      if (lines.some((l) => l.endsWith('progress: ready'))) break;
      if (!alive(pid)) return failed(`lab supervisor exited during start: see ${SUPERVISOR_LOG}`);
      if (Date.now() > deadline) {
        signalQuietly(pid, 'SIGTERM');
        return failed(`lab did not come up within ${opts.timeoutMs ?? 120000} ms: see ${SUPERVISOR_LOG}`);
      }
      await new Promise((r) => setTimeout(r, 50));
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

  /**
   * The running lab, or undefined when there is none (no state file, or its
   * supervisor is dead). A supervisor that is alive but slow to answer (a
   * loaded 2-core machine took more than 2 s while the CDK tests ran) is asked
   * again with growing timeouts until ATTACH_DEADLINE_MS, and then this throws
   * what it tried: treating a busy lab as absent would make `up` sweep it away.
   */
  private static async tryAttach(deadlineMs = ATTACH_DEADLINE_MS): Promise<Lab | undefined> {
    const st = readLabState();
    if (!st?.ready || !alive(st.supervisorPid)) return undefined;
    const t0 = Date.now();
    const tries: string[] = [];
    for (let i = 0; ; i++) {
      const timeoutMs = Math.min(2000 * (i + 1), 8000);
      try {
        const h = await control<{ ready: boolean }>(st.controlPort, '/health', {}, timeoutMs);
        if (h.ready) return new Lab(st);
        tries.push('answered, not ready');
      } catch (err) {
        tries.push(`no answer within ${timeoutMs} ms`);
        if (!(err instanceof LabError)) throw err;
      }
      if (!alive(st.supervisorPid)) return undefined;
      const elapsed = Date.now() - t0;
      if (elapsed >= deadlineMs) {
        throw new LabError(
          `the lab supervisor (pid ${st.supervisorPid}) is running but its control API on port ${st.controlPort} ` +
            `did not answer /health: ${tries.length} tries over ${(elapsed / 1000).toFixed(1)} s (${tries.join('; ')}). ` +
            'Is the machine overloaded? `npm run lab -- down` stops the lab.',
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** i, 2000, Math.max(0, deadlineMs - elapsed))));
    }
  }

  /**
   * Kills whatever a dead (or failed) supervisor left behind: every PID it
   * recorded, then any member of its process group (ministack's workers,
   * PostgreSQL children), and removes the state file.
   */
  private static async cleanupStale(supervisorPid?: number): Promise<void> {
    const st = readLabState();
    const leader = st?.supervisorPid ?? supervisorPid;
    const pids = [...(st ? Object.values(st.pids) : []), leader].filter((p): p is number => alive(p));
    for (const p of pids) signalQuietly(p, 'SIGKILL');
    await waitGone(pids, 5000);
    if (leader) {
      const rest = groupMembers(leader);
      for (const p of rest) signalQuietly(p, 'SIGKILL');
      await waitGone(rest, 5000);
    }
    fs.rmSync(STATE_FILE, { force: true });
    // The emulator held the deployment and everything the outputs name: they are gone with the lab.
    fs.rmSync(DEPLOYMENT_FILE, { force: true });
    fs.rmSync(OUTPUTS_FILE, { force: true });
  }

  /**
   * Stops everything the lab started (fast shutdown of PostgreSQL, then the
   * emulator, gates and endpoints) and waits until every process is gone.
   * Safe to call when no lab runs.
   */
  static async down(): Promise<void> {
    const st = readLabState();
    if (!st) return;
    if (alive(st.supervisorPid)) {
      await control(st.controlPort, '/down', {}, 5000).catch(() => undefined);
      if (!(await waitGone([st.supervisorPid], 30000))) signalQuietly(st.supervisorPid, 'SIGTERM');
      await waitGone([st.supervisorPid], 5000);
    }
    await Lab.cleanupStale(st.supervisorPid);
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

  /** The seeded VPC (10.42.0.0/16). */
  get vpcId(): string {
    return this.ids.vpcId;
  }

  /** Subnet id per AZ (us-east-1a/b/c). */
  get subnetIds(): Record<string, string> {
    return this.ids.subnets;
  }

  /** The Route 53 private hosted zone id (without the /hostedzone/ prefix). */
  get hostedZoneId(): string {
    return this.ids.hostedZoneId;
  }

  /** EC2 instance id standing in for a node. */
  instanceId(node: string): string {
    return this.ids.nodes[this.spec(node).name]!.instanceId;
  }

  /** The node's own security group (the fence revokes its ingress). */
  securityGroupId(node: string): string {
    return this.ids.nodes[this.spec(node).name]!.securityGroupId;
  }

  /** Base URL of the supervisor's control API (the lab's hosts start and stop their postmasters through /pg-*). */
  get controlUrl(): string {
    return `http://127.0.0.1:${this.state.controlPort}`;
  }

  /** A node's data directory (owned by postgres). */
  dataDir(node: string): string {
    return nodeDataDir(this.spec(node).name);
  }

  /** The cloud-behaviour profile the lab models. */
  get cloud(): CloudProfile {
    return this.state.cloud ?? cloudProfile('ideal');
  }

  /** Replication mode the lab was started with. */
  get mode(): ReplicationMode {
    return this.state.mode;
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
      // verify-full: node checks the lab CA's chain and, for an IP address, the certificate's IP SAN.
      ssl: { ca: labCaPem(), rejectUnauthorized: true },
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

  /**
   * SIGKILL the node's postmaster (a crash). Resolves once it and its children
   * are gone and reaped, so pgStart() or pg_rewind can follow at once.
   */
  async kill(node: string): Promise<void> {
    this.spec(node);
    await this.call('/kill', { node });
  }

  /**
   * SIGSTOP the node's whole process tree (a hung host): TCP still connects
   * through the gate (the kernel accepts), nothing answers, open sessions and
   * the walsender freeze too.
   */
  async stop(node: string): Promise<void> {
    this.spec(node);
    await this.call('/stop', { node });
  }

  /** SIGCONT a stopped node: it answers again. */
  async cont(node: string): Promise<void> {
    this.spec(node);
    await this.call('/cont', { node });
  }

  /** Starts a node's postmaster (after kill or stop) and waits until it accepts connections. */
  async pgStart(node: string): Promise<void> {
    await this.call('/pg-start', { node });
  }

  /** Stops a node's postmaster cleanly (fast) or not (immediate); resolves once it is reaped. */
  async pgStop(node: string, mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    this.spec(node);
    await this.call('/pg-stop', { node, mode });
  }

  /** Fast shutdown (writes a shutdown checkpoint: what a planned switchover does to the old primary). */
  pgStopFast(node: string): Promise<void> {
    return this.pgStop(node, 'fast');
  }

  /**
   * Authorizes (open) or revokes (closed) the node's PostgreSQL ingress rule in
   * the emulator through the EC2 API; the gate follows within one poll (150 ms).
   * Closing revokes every ingress rule the group has, as a fence does.
   */
  async setSecurityGroup(node: string, open: boolean): Promise<void> {
    const { ec2 } = labClients(this.state.ports.emulator);
    const GroupId = this.securityGroupId(node);
    const cur = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [GroupId] }));
    const perms = cur.SecurityGroups?.[0]?.IpPermissions ?? [];
    if (open && perms.length === 0) {
      await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId, IpPermissions: [PG_INGRESS] }));
    } else if (!open && perms.length > 0) {
      await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId, IpPermissions: perms }));
    }
  }

  /**
   * Closes every established connection through the node's gate (all paths, or
   * one), as the fence's second layer must; returns how many were closed.
   */
  async sever(node: string, gatePath?: GatePath): Promise<number> {
    this.spec(node);
    return (await this.call<{ severed: number }>('/sever', { node, path: gatePath })).severed;
  }

  /**
   * Partitions one network path to a node (see GATE_PATHS). `reset` (default):
   * new connections refused, established ones dropped. `blackhole`: bytes
   * vanish both ways until heal(), so only timeouts notice.
   */
  async cut(node: string, gatePath: GatePath, mode: CutMode = 'reset'): Promise<void> {
    this.spec(node);
    await this.call('/cut', { node, path: gatePath, mode });
  }

  /** Heals a partitioned path (held blackholed connections resume). */
  async heal(node: string, gatePath: GatePath): Promise<void> {
    this.spec(node);
    await this.call('/heal', { node, path: gatePath });
  }

  /**
   * The node's whole host is gone, as when an instance or its hardware is lost:
   * its postmaster is frozen (`running`) or killed (`stopped`), every path
   * through its gate is black-holed (clients, replication, every probe AZ: a
   * lost host answers nothing and closes nothing), and the lab's SSM service
   * never delivers to it: with the instance `running` a command is accepted and
   * stays Pending until it times out; `stopped` also stops the emulator's EC2
   * instance, so SendCommand fails with InvalidInstanceId. Healed by
   * healHost() or reset().
   */
  async hostLoss(node: string, opts: { instance?: 'running' | 'stopped' } = {}): Promise<void> {
    this.spec(node);
    await this.call('/host-loss', { node, instance: opts.instance ?? 'running' });
  }

  /**
   * An AZ is lost: host loss of every node in it (instances left `running`
   * unless told otherwise: an AZ in trouble usually cannot stop them either),
   * and the probe in that AZ stops running (its function is deleted, which
   * ends its loop; restartProbes() brings it back).
   */
  async azOutage(az: string, opts: { instance?: 'running' | 'stopped' } = {}): Promise<string[]> {
    const inAz = this.state.ports.nodes.filter((n) => n.az === az).map((n) => n.name);
    if (!this.state.ports.nodes.some((n) => n.az === az)) {
      throw new LabError(`unknown AZ '${az}' (expected one of ${this.state.ports.nodes.map((n) => n.az).join(', ')})`);
    }
    for (const n of inAz) await this.hostLoss(n, opts);
    const { stopProbeInAz } = await import('../deployer/deploy');
    Object.assign(process.env, this.awsEnv);
    await stopProbeInAz(az);
    return inAz;
  }

  /**
   * The node's host hangs (a kernel stuck, a host frozen): SIGSTOP that the
   * fence cannot undo. TCP still connects (the kernel accepts), nothing
   * answers, sessions held to it stay held; its SSM agent never picks a
   * command up, and the lab's stop path refuses it instead of thawing it.
   * Only cont(), healHost() or reset() wake it.
   */
  async hungHost(node: string): Promise<void> {
    this.spec(node);
    await this.call('/hung-host', { node });
  }

  /** Ends a host fault: a frozen host thaws, a stopped instance is started and boots (PostgreSQL starts). */
  async healHost(node: string): Promise<void> {
    this.spec(node);
    await this.call('/heal-host', { node });
  }

  /** Each node's host as the lab models it: agent, instance state, fault. */
  async hosts(): Promise<Record<string, HostStatus>> {
    return this.call('/hosts');
  }

  /** Every SSM invocation the lab's service holds, with its status (what the product sent and how it went). */
  async ssmInvocations(): Promise<
    { commandId: string; node: string; script: string; status: string; details: string }[]
  > {
    return this.call('/ssm-invocations');
  }

  /** Makes the endpoints forget their cached record answers (skips the TTL wait). */
  async flushDns(): Promise<void> {
    await this.call('/flush-dns');
  }

  /** Stops the emulator (state is lost: call reset() after starting it again). */
  async emulatorStop(): Promise<void> {
    await this.call('/emulator-stop');
  }

  /** Starts the emulator again (empty: call reset() to re-seed; the seeded ids change). */
  async emulatorStart(): Promise<void> {
    await this.call('/emulator-start');
  }

  /**
   * Freezes (true) or thaws (false) the emulator with SIGSTOP/SIGCONT: AWS calls
   * time out but its state survives (the bench's emulator-down scenario).
   */
  async emulatorPause(paused: boolean): Promise<void> {
    await this.call(paused ? '/emulator-pause' : '/emulator-resume');
  }

  /**
   * Slows every AWS call through the lab's endpoint by `ms` on top of the profile's latency (0: normal speed).
   * Unlike emulatorPause, calls still answer, late. reset() restores normal speed.
   */
  async emulatorSlow(ms: number): Promise<void> {
    await this.call('/emulator-slow', { ms: String(ms) });
  }

  /** Calls, slowdown and Route 53 changes (with their propagation) as the lab's AWS endpoint sees them. */
  async awsProxy(): Promise<AwsProxyStatus> {
    return this.call('/aws-proxy');
  }

  /**
   * Holds delivery of a host script's Run Command (every node) until `releaseHostCommand`: a drill uses it to act
   * while the product waits on that command. `lab.reset()` releases every hold.
   */
  async holdHostCommand(script: string): Promise<void> {
    await this.call('/ssm-hold', { script, held: 'true' });
  }

  /** Delivers a held host script's commands again. */
  async releaseHostCommand(script: string): Promise<void> {
    await this.call('/ssm-hold', { script, held: 'false' });
  }

  /**
   * Holds a task function's invocations before their handler runs (as a slow invoke would) until `releaseTask`:
   * a drill acts at an exact step of a run. `heldTasks` lists the waiting invocations. `lab.reset()` releases all.
   */
  async holdTask(task: TaskName): Promise<void> {
    await this.call('/task-hold', { task, held: 'true' });
  }

  /** Lets a held task's waiting and later invocations run. */
  async releaseTask(task: TaskName): Promise<void> {
    await this.call('/task-hold', { task, held: 'false' });
  }

  /** The invocations waiting on each held task, with the run's candidate each is about. */
  async heldTasks(): Promise<Record<string, { candidate: string; at: number }[]>> {
    return this.call('/task-holds');
  }

  /**
   * Arms the fault switch: the named task function (a TASKS key: commit, promote, repoint-replica...) does
   * its work and then fails with Pgq.Retriable, `times` times (default 1), so the state machine's Retry runs
   * it again. Works on a lab deployment (lab/deployer/deploy.ts wraps every task with lab/deployer/task-shim.js). reset() disarms.
   */
  async armFault(task: string, opts: { times?: number } = {}): Promise<void> {
    if (!(task in TASKS)) {
      throw new LabError(`unknown task '${task}' (expected one of ${Object.keys(TASKS).join(', ')})`);
    }
    await this.call('/fault-arm', { task, times: String(opts.times ?? 1) });
  }

  /** Faults still armed and every task completion the shim reported since the last reset. */
  async faults(): Promise<LabFaults> {
    return this.call('/faults');
  }

  /**
   * Back to baseline: pg1 primary, pg2/pg3 streaming from it through its repl
   * gate (quorum in sync mode), all SGs open, paths healed, client sessions
   * severed, stray slots on pg1 dropped, writer -> pg1, reader -> pg2+pg3,
   * votes/fences/events deleted, node registry rewritten, lease steady at epoch 1,
   * faults disarmed, the AWS endpoint at normal speed, Route 53 changes forgotten.
   * Keeps whatever is already at baseline (about 0.1 s), re-clones only a
   * drifted replica (about 1 s), rebuilds from initdb when pg1 is no longer a
   * clean primary (about 3 s). Returns what it had to do.
   */
  async reset(): Promise<string> {
    return (await this.call<{ how: string }>('/reset')).how;
  }

  /** Gate view from the supervisor: SG state as last polled, connections, cut paths, refused count. */
  async gates(): Promise<
    Record<
      string,
      {
        sgOpen: boolean;
        sgStale: boolean;
        connections: number;
        perPath: Record<string, number>;
        cut: string[];
        cutModes: Partial<Record<GatePath, CutMode>>;
        refused: number;
      }
    >
  > {
    return this.call('/gates');
  }

  /**
   * PIDs of every process the lab runs (supervisor, emulator, postmasters) and
   * the memory of all of them with every PostgreSQL child: the plain RSS sum
   * (counts shared buffers once per backend) and the PSS sum (shared pages split).
   */
  processes(): { pids: Record<string, number>; rssMiB: number; pssMiB: number; processCount: number } {
    const st = this.state;
    const pids: Record<string, number> = { supervisor: st.supervisorPid };
    for (const [k, v] of Object.entries(st.pids)) if (v && alive(v)) pids[k] = v;
    // The supervisor's process group holds it, the emulator and the postmasters; PostgreSQL
    // children call setsid(), so they are counted as the postmasters' children instead.
    const members = new Set(groupMembers(st.supervisorPid));
    for (const n of this.nodeNames) {
      const pm = st.pids[n];
      if (pm && alive(pm)) for (const c of childPids(pm)) members.add(c);
    }
    const sum = (f: (pid: number) => number) => Math.round([...members].reduce((a, p) => a + f(p), 0) / 1024);
    return { pids, rssMiB: sum(rssKiB), pssMiB: sum(pssKiB), processCount: members.size };
  }

  /** One row per node plus record targets. */
  async status(): Promise<LabStatus> {
    const [gates, procs, endpoints, emulatorHealthy] = await Promise.all([
      this.gates(),
      this.call<Record<string, { pid: number | null; frozen: boolean }>>('/nodes'),
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
        role: r.role === 'down' && procs[r.name]?.frozen ? 'stopped' : r.role,
        timeline: r.timeline,
        lsn: r.lsn,
        lagBytes:
          r.role === 'replica' && primaryLsn && r.lsn
            ? // A difference fits a number; an absolute LSN past 2^53 does not (lambdas/core/lsn.ts).
              Math.max(0, Number(lsnDiff(primaryLsn, r.lsn)))
            : r.role === 'primary'
              ? 0
              : null,
        syncState: r.role === 'replica' ? (syncByName.get(r.name) ?? 'not streaming') : null,
        upstream: r.upstream,
        gateOpen: g.sgOpen,
        gateStale: g.sgStale,
        gateConnections: g.connections,
        cutPaths: g.cut,
        pid: procs[r.name]?.pid ?? null,
      };
    });
    return {
      mode: this.state.mode,
      cloud: this.cloud.name,
      nodes,
      writer: endpoints.writer ?? [],
      reader: endpoints.reader ?? [],
      emulator: { port: this.state.ports.emulator, healthy: emulatorHealthy },
      ...(({ rssMiB, pssMiB }) => ({ rssMiB, pssMiB }))(this.processes()),
    };
  }

  /**
   * One node's role, timeline, LSN, upstream and standbys, read by the product's probe (PgNodeAdapter.probe) without
   * its heartbeat write, so the lab's view of a node is the controller's and its status never moves an LSN.
   */
  private async queryNode(name: string) {
    const down = {
      name,
      role: 'down' as const,
      timeline: null,
      lsn: null,
      upstream: null,
      standbys: {} as Record<string, string>,
    };
    const { host, port } = this.directConnection(name);
    // The adapter's hard deadline (connect + two statements) also cuts a SIGSTOPped node's silent socket short.
    const p = await this.statusProbe().probe({ name, host, port }, { heartbeat: false });
    if (!p.ok || !p.role) return down;
    const standbys: Record<string, string> = {};
    for (const x of p.standbys ?? []) standbys[x.name] = x.state === 'streaming' ? x.syncState : x.state;
    const senderPort = p.upstream ? Number(p.upstream.slice(p.upstream.lastIndexOf(':') + 1)) : null;
    const upstream = senderPort
      ? (this.state.ports.nodes.find((n) => Object.values(n.gatePorts).includes(senderPort))?.name ?? null)
      : null;
    return {
      name,
      role: p.role,
      timeline: p.timeline ?? null,
      lsn: (p.role === 'primary' ? p.currentLsn : p.replayLsn) ?? null,
      upstream,
      standbys,
    };
  }

  private statusAdapter?: PgNodeAdapter;

  /** The product's PostgreSQL adapter with the lab's superuser over verify-full TLS (the CA exists once up). */
  private statusProbe(): PgNodeAdapter {
    this.statusAdapter ??= new PgNodeAdapter(
      parsePgConfig({
        user: LAB_DB_USER,
        password: LAB_DB_PASSWORD,
        database: LAB_DB_NAME,
        ssl: pgSsl('verify-full', labCaPem()),
        connectTimeoutMs: 1000,
        statementTimeoutMs: 500,
      }),
    );
    return this.statusAdapter;
  }
}

/**
 * The lab supervisor: one detached process that owns every moving part of the
 * lab (the emulator, three postmasters, the gates, the writer/reader endpoints)
 * so each child is reaped the moment it dies, and so all of it outlives the CLI
 * call that started it. It answers a small JSON control API on loopback.
 *
 * Started by `Lab.up()` as `node --import tsx lab/world/supervisor.ts <options-json>`.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { admitsPostgres } from '../../lambdas/adapters/aws/ec2-fence';
import { ssmDocumentPrefix } from '../../lambdas/core/contract';
import { writeLabOutputs } from '../deployer/outputs';
import { AwsProxy } from './aws-proxy';
import { type CloudProfile, IDEAL_PROFILE } from './cloud-profile';
import { Emulator } from './emulator';
import { RecordEndpoint } from './endpoint';
import { type CutMode, Gate } from './gate';
import { LAB_DIR, nodeDataDir, PG_BIN, REPO_ROOT, STATE_FILE, SUPERVISOR_LOG } from './paths';
import { PostgresNode, type ReplicationMode, sleep } from './postgres-node';
import { preflight } from './preflight';
import { getRecord, labAwsEnv, labClients, resetAwsState, type SeededIds, seedAws, setRecord } from './seed';
import { type AgentState, LabSsmService, type SsmDocument } from './ssm-service';
import type { LabState } from './state';
import { generateLabTls, LAB_CA_FILE } from './tls';
import {
  GATE_PATHS,
  type GatePath,
  LAB_CLUSTER,
  LAB_READER_RECORD,
  LAB_REPL_PASSWORD,
  LAB_REWIND_PASSWORD,
  LAB_WRITER_RECORD,
  LAB_ZONE_NAME,
  labPorts,
} from './topology';

interface SupervisorOptions {
  portBase: number;
  controlPort: number;
  mode: ReplicationMode;
  /** The cloud-behaviour profile to model (default ideal). */
  cloud?: CloudProfile;
  /** Who started the lab: the jest global teardown only takes down a lab a test run started. */
  origin: string;
}

const opts = JSON.parse(process.argv[2] ?? '{}') as SupervisorOptions;
const ports = labPorts(opts.portBase);

function log(msg: string): void {
  fs.appendFileSync(SUPERVISOR_LOG, `${new Date().toISOString()} ${msg}\n`);
}

const emulator = new Emulator(ports.emulator, log);
const nodes = new Map<string, PostgresNode>(ports.nodes.map((s) => [s.name, new PostgresNode(s, log)]));
const gates = new Map<string, Gate>(ports.nodes.map((s) => [s.name, new Gate(s, log)]));
let ids: SeededIds | undefined;
let ready = false;
let sgPollOk = true;
let shuttingDown = false;
/** Config fingerprints of each node right after it was built: reset() rebuilds a node whose files drifted. */
const baselineConfig = new Map<string, string>();
/** Serializes reset/build against each other (two tests calling reset at once must not interleave). */
let busy: Promise<unknown> = Promise.resolve();
function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const run = busy.then(fn, fn);
  busy = run.catch(() => undefined);
  return run;
}

function ipToGatePort(ip: string): number | undefined {
  return ports.nodes.find((n) => n.privateIp === ip)?.gatePorts.client;
}

/**
 * The lab's AWS endpoint. Housekeeping here (seed, reset, the SG poll, the resolver's reads) talks to the
 * emulator directly: only the product's calls pay the profile's delays.
 */
const proxy = new AwsProxy(
  ports.awsProxy,
  ports.emulator,
  opts.cloud ?? IDEAL_PROFILE,
  async (name) => (ids ? await getRecord(ports.emulator, ids.hostedZoneId, name) : undefined),
  log,
);

/** Faults armed with /fault-arm: task name -> failures left. The task shim takes one per completed invocation. */
const faults = new Map<string, number>();
/**
 * Task holds (/task-hold): a held task's invocations wait in the shim before the real handler runs, as a slow
 * cold start or invoke would hold them, until the drill releases the task. Per task: the waiting invocations
 * (with the run's candidate, so a drill knows whom the step is about) and their release callbacks.
 */
const taskHolds = new Map<string, { candidate: string; at: number; release: () => void }[]>();
/** Releases every invocation waiting on `task` (all tasks when undefined). */
function releaseTaskHolds(task?: string): void {
  for (const [k, waiters] of taskHolds) {
    if (task !== undefined && k !== task) continue;
    for (const w of waiters) w.release();
    taskHolds.delete(k);
  }
}
/** Every fault fired and every completed task invocation the shim reported, in order (tests and the bench read it). */
const faultLog: { task: string; at: number; failed: boolean }[] = [];

function recordResolver(name: string) {
  return async () => {
    if (!ids) throw new Error('not seeded');
    // The endpoints stand for the VPC resolver: a change that went through the lab's AWS endpoint is seen only
    // once it has propagated (then the endpoint's cache honours the TTL, as a stub resolver would).
    const seen = proxy.visibleRecord(name);
    if (seen === 'none') throw new Error(`record ${name} not visible yet`);
    const r = seen ?? (await getRecord(ports.emulator, ids.hostedZoneId, name));
    const ps = r.ips.map(ipToGatePort).filter((p): p is number => p !== undefined);
    return {
      ports: ps,
      ttlSec: r.ttlSec,
      targets: r.ips.map((ip) => ports.nodes.find((n) => n.privateIp === ip)?.name ?? ip),
    };
  };
}

const writer = new RecordEndpoint('writer', ports.writer, recordResolver(LAB_WRITER_RECORD), log);
const reader = new RecordEndpoint('reader', ports.reader, recordResolver(LAB_READER_RECORD), log);

/**
 * A host fault in force (lab.hostLoss / azOutage / hungHost): the node's host
 * is unreachable, its SSM agent delivers nothing, and nothing the lab's own
 * stop path does thaws or stops it until the fault is healed.
 */
interface HostFault {
  kind: 'host-loss' | 'hung-host';
  /** host-loss only: whether the emulator's EC2 instance stays running or was stopped. */
  instance?: 'running' | 'stopped';
  since: string;
}
const hostFaults = new Map<string, HostFault>();
/** Nodes whose EC2 instance the emulator reports stopped (by a host fault, or by the product's STONITH). */
const instancesStopped = new Set<string>();
/** Bumped whenever the lab changes instance state itself: an instance poll begun before that is discarded. */
let instanceEpoch = 0;

function agentState(node: string): AgentState {
  if (instancesStopped.has(node)) return 'stopped';
  return hostFaults.has(node) ? 'lost' : 'online';
}

function ctl(route: string, body: object): string {
  return `curl -sf -m 60 -X POST http://127.0.0.1:${opts.controlPort}${route} -d '${JSON.stringify(body)}' >/dev/null`;
}

/**
 * What a node's host gives a script besides its SSM parameters: its data
 * directory, how its service starts and stops (the supervisor owns each
 * postmaster, so a killed one is reaped at once), and the passwords the host
 * would read from Secrets Manager with SECRET_ID.
 */
function hostEnv(node: string): Record<string, string> {
  return {
    PGDATA: nodeDataDir(node),
    PGBIN: PG_BIN,
    START_CMD: ctl('/pg-start', { node }),
    STOP_FAST_CMD: ctl('/pg-stop', { node, mode: 'fast' }),
    STOP_IMMEDIATE_CMD: ctl('/pg-stop', { node, mode: 'immediate' }),
    // What the hosts' secret holds: the replication and rewind passwords, never the controller's.
    REPL_PASSWORD: LAB_REPL_PASSWORD,
    REWIND_PASSWORD: LAB_REWIND_PASSWORD,
    // What the stack's SSM documents export on a real host (the CA file is already there: no fetch).
    PGQ_DB_SSLMODE: 'verify-full',
    PGQ_DB_CA_FILE: LAB_CA_FILE,
  };
}

const ssm = new LabSsmService({
  port: ports.ssm,
  profile: opts.cloud ?? IDEAL_PROFILE,
  hosts: () =>
    ids
      ? ports.nodes.map((n) => ({ name: n.name, instanceId: ids!.nodes[n.name]!.instanceId, privateIp: n.privateIp }))
      : [],
  agent: agentState,
  hostEnv,
  // The stack names its documents pgquorum-<cluster>-<script> (PGQ_SSM_DOCUMENT_PREFIX).
  documentPrefix: ssmDocumentPrefix(LAB_CLUSTER),
  scriptsDir: path.join(REPO_ROOT, 'infra', 'host-scripts'),
  log,
});

/** Every path through the node's gate black-holed: a host that is gone answers nothing and closes nothing. */
function isolate(node: string): void {
  const g = gates.get(node)!;
  for (const p of GATE_PATHS) g.cutPath(p, 'blackhole');
}

function reconnect(node: string): void {
  const g = gates.get(node)!;
  for (const p of GATE_PATHS) g.healPath(p);
}

/** The node's instance is stopped (a host fault, or the product's StopInstances): the host really stops. */
async function hostStopped(node: string): Promise<void> {
  if (instancesStopped.has(node)) return;
  instancesStopped.add(node);
  isolate(node);
  log(`host ${node}: instance stopped: postmaster killed, every path black-holed`);
  await nodes.get(node)!.crash();
  writeState();
}

/** The node's instance runs again (StartInstances): the host boots, its network is back, PostgreSQL starts. */
async function hostStarted(node: string): Promise<void> {
  if (!instancesStopped.delete(node)) return;
  if (hostFaults.get(node)?.instance === 'stopped') hostFaults.delete(node);
  if (hostFaults.has(node)) return;
  reconnect(node);
  log(`host ${node}: instance running again: booting (PostgreSQL starts as the host's service would)`);
  await nodes.get(node)!.start();
  writeState();
}

/** Stops (or starts) the node's EC2 instance in the emulator, as the console or the product would. */
async function setInstance(node: string, running: boolean): Promise<void> {
  const { ec2 } = labClients(ports.emulator);
  const InstanceIds = [ids!.nodes[node]!.instanceId];
  instanceEpoch++;
  await ec2.send(
    running ? new StartInstancesCommand({ InstanceIds }) : new StopInstancesCommand({ InstanceIds, Force: true }),
  );
}

/** The node's whole host is gone (see Lab.hostLoss). */
async function hostLoss(node: string, instance: 'running' | 'stopped'): Promise<void> {
  if (hostFaults.has(node) || instancesStopped.has(node))
    throw new Error(`host ${node} already has a fault: heal or reset first`);
  hostFaults.set(node, { kind: 'host-loss', instance, since: new Date().toISOString() });
  isolate(node);
  if (instance === 'stopped') {
    await setInstance(node, false);
    await hostStopped(node);
  } else {
    // Frozen, not killed: the kernel keeps every socket open, so nothing on the other side sees a FIN.
    nodes.get(node)!.setFrozen(true);
    log(`host ${node}: lost (instance running): postmaster frozen, every path black-holed, SSM agent unreachable`);
  }
}

/** SIGSTOP that nothing but healHost/cont undoes; TCP still connects (the kernel answers), nothing else does. */
function hungHost(node: string): void {
  if (hostFaults.has(node) || instancesStopped.has(node))
    throw new Error(`host ${node} already has a fault: heal or reset first`);
  hostFaults.set(node, { kind: 'hung-host', since: new Date().toISOString() });
  nodes.get(node)!.setFrozen(true);
  log(`host ${node}: hung: postmaster frozen, SSM agent unreachable`);
}

/** Ends a host fault: the host answers again (a stopped instance is started and boots). */
async function healHost(node: string): Promise<void> {
  const f = hostFaults.get(node);
  if (instancesStopped.has(node)) {
    hostFaults.delete(node);
    await setInstance(node, true);
    await hostStarted(node);
    return;
  }
  if (!f) return;
  hostFaults.delete(node);
  const n = nodes.get(node)!;
  if (n.frozen) n.setFrozen(false);
  reconnect(node);
  log(`host ${node}: ${f.kind} healed`);
}

/**
 * Follows the emulator's instance states, as the gates follow security groups:
 * an instance the product stopped (STONITH) takes its host down, one started
 * again boots it. Fail static: a failed poll changes nothing.
 */
async function pollInstances(): Promise<void> {
  const { ec2 } = labClients(ports.emulator);
  while (!shuttingDown) {
    if (ids && ready) {
      const epoch = instanceEpoch;
      try {
        const res = await ec2.send(
          new DescribeInstancesCommand({ InstanceIds: Object.values(ids.nodes).map((n) => n.instanceId) }),
          { abortSignal: AbortSignal.timeout(1000) },
        );
        const states = new Map<string, string>();
        for (const r of res.Reservations ?? [])
          for (const i of r.Instances ?? []) states.set(i.InstanceId!, i.State?.Name ?? '');
        if (epoch === instanceEpoch && !resetting) {
          for (const [name, n] of Object.entries(ids.nodes)) {
            const st = states.get(n.instanceId);
            if (st === 'stopping' || st === 'stopped') await hostStopped(name);
            else if (st === 'running' || st === 'pending') await hostStarted(name);
          }
        }
        if (!instancePollOk) log('instance poll recovered');
        instancePollOk = true;
      } catch (err) {
        if (instancePollOk) log(`instance poll failed, hosts keep their state: ${(err as Error).message}`);
        instancePollOk = false;
      }
    }
    await sleep(300);
  }
}
let resetting = false;
let instancePollOk = true;

/** Polls every node's security group; gates keep their last state when the emulator does not answer (fail static). */
async function pollSecurityGroups(): Promise<void> {
  // One client for the life of the poll: it keeps its HTTP connection alive between polls.
  const { ec2 } = labClients(ports.emulator);
  while (!shuttingDown) {
    if (ids) {
      try {
        const groupIds = Object.values(ids.nodes).map((n) => n.securityGroupId);
        const res = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: groupIds }), {
          abortSignal: AbortSignal.timeout(1000),
        });
        for (const [name, n] of Object.entries(ids.nodes)) {
          const sg = res.SecurityGroups?.find((g) => g.GroupId === n.securityGroupId);
          const gate = gates.get(name)!;
          const open = admitsPostgres(sg?.IpPermissions);
          if (open !== gate.sg.open) log(`gate ${name}: security group ${open ? 'opened' : 'closed'}`);
          gate.sg = { open, stale: false };
        }
        if (!sgPollOk) log('security-group poll recovered');
        sgPollOk = true;
      } catch (err) {
        if (sgPollOk) log(`security-group poll failed, gates keep their last state: ${(err as Error).message}`);
        sgPollOk = false;
        for (const g of gates.values()) g.sg = { ...g.sg, stale: true };
      }
    }
    await sleep(150);
  }
}

let tlsGenerated = false;

/** Builds pg1 as primary and clones pg2/pg3 from it, each streaming through pg1's repl gate. */
async function buildCluster(): Promise<void> {
  const [p1, ...replicas] = [...nodes.values()];
  if (!tlsGenerated) {
    // Once per `lab up`: a reset rebuilds the nodes but keeps the CA the deployed functions already trust.
    log('generating the lab CA and node certificates');
    generateLabTls([...nodes.keys()], LAB_ZONE_NAME);
    tlsGenerated = true;
  }
  await Promise.all([...nodes.values()].map((n) => n.stop('immediate')));
  for (const n of nodes.values()) n.wipe();
  log('initdb pg1');
  await p1!.initPrimary(opts.mode);
  await p1!.start();
  await p1!.bootstrap();
  baselineConfig.set(p1!.name, p1!.configFingerprint());
  writeState();
  await Promise.all(replicas.map((r) => rebuildReplica(r)));
  await waitStreaming(replicas.map((r) => r.name));
}

/** Re-clones one replica from pg1 with a fresh slot (pg_basebackup -C fails on an existing slot). */
async function rebuildReplica(r: PostgresNode): Promise<void> {
  const p1 = [...nodes.values()][0]!;
  await r.stop('immediate');
  const c = p1.localClient();
  await c.connect();
  try {
    await c.query(
      'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active',
      [r.name],
    );
  } finally {
    await c.end().catch(() => undefined);
  }
  r.wipe();
  log(`pg_basebackup ${r.name}`);
  await r.cloneFrom(p1, p1.spec.gatePorts.repl);
  await r.start();
  baselineConfig.set(r.name, r.configFingerprint());
  writeState();
}

/** What reset() found: whether pg1 can stay, and which replicas can stay. */
async function inspectBaseline(): Promise<{ primaryOk: boolean; replicasOk: Set<string> }> {
  const [p1, ...replicas] = [...nodes.values()];
  const replicasOk = new Set<string>();
  const sameConfig = (n: PostgresNode) => baselineConfig.get(n.name) === n.configFingerprint();
  if (!p1!.pid || !sameConfig(p1!)) return { primaryOk: false, replicasOk };
  const c = p1!.localClient();
  try {
    await c.connect();
    const rec = await c.query('SELECT pg_is_in_recovery() AS rec');
    if (rec.rows[0].rec) return { primaryOk: false, replicasOk };
    // A replica that is alive, unchanged and in recovery only needs time to re-attach
    // (severed streams retry every wal_retrieve_retry_interval): wait for it briefly.
    const candidates = replicas.filter((r) => r.pid && sameConfig(r)).map((r) => r.name);
    const deadline = Date.now() + 2500;
    for (;;) {
      const r = await c.query(
        `SELECT application_name FROM pg_stat_replication
          WHERE state = 'streaming' AND application_name = ANY($1)`,
        [candidates],
      );
      for (const row of r.rows) replicasOk.add(row.application_name);
      if (replicasOk.size === candidates.length || Date.now() > deadline) break;
      await sleep(100);
    }
    return { primaryOk: true, replicasOk };
  } catch {
    return { primaryOk: false, replicasOk };
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Drops replication slots a test left on pg1 (only inactive ones that are not pg2's or pg3's). */
async function dropStraySlots(): Promise<void> {
  const p1 = [...nodes.values()][0]!;
  const c = p1.localClient();
  await c.connect();
  try {
    await c.query(
      `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
        WHERE NOT active AND slot_name <> ALL($1)`,
      [[...nodes.keys()]],
    );
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Waits until every named replica streams from pg1 (and, in sync mode, counts for the quorum). */
async function waitStreaming(names: string[], timeoutMs = 20000): Promise<void> {
  const p1 = [...nodes.values()][0]!;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = p1.localClient();
    try {
      await c.connect();
      const r = await c.query(
        `SELECT count(*)::int AS n FROM pg_stat_replication
          WHERE state = 'streaming' AND application_name = ANY($1) AND ($2 OR sync_state = 'quorum')`,
        [names, opts.mode === 'async'],
      );
      if (r.rows[0].n >= names.length) return;
    } catch {
      // not up yet
    } finally {
      await c.end().catch(() => undefined);
    }
    if (Date.now() > deadline) throw new Error(`replicas did not start streaming within ${timeoutMs} ms`);
    await sleep(100);
  }
}

const startedAt = new Date().toISOString();

function state(): LabState {
  return {
    ready,
    origin: opts.origin,
    supervisorPid: process.pid,
    controlPort: opts.controlPort,
    portBase: opts.portBase,
    mode: opts.mode,
    cloud: opts.cloud ?? IDEAL_PROFILE,
    ports,
    // What the product gets: the proxy, which models the cloud profile in front of the emulator, and the lab's SSM.
    aws: labAwsEnv(ports.awsProxy, ports.ssm),
    ids: ids!,
    pids: {
      emulator: emulator.pid,
      ...Object.fromEntries([...nodes].map(([k, n]) => [k, n.pid])),
    },
    startedAt,
  };
}

/** Rewritten after every process start, so a crashed supervisor still leaves every PID on record for cleanup. */
function writeState(): void {
  const tmp = `${STATE_FILE}.${process.pid}.tmp`;
  const st = state();
  fs.writeFileSync(tmp, JSON.stringify(st, null, 2));
  // Atomic: readers never see a half-written file.
  fs.renameSync(tmp, STATE_FILE);
  // The operator CLI's view of the lab (seeded ids change when the emulator restarts and is re-seeded).
  if (st.ready) writeLabOutputs(st);
}

/**
 * Back to baseline, doing only what is needed: a node whose role, stream or
 * config files are as built is kept (seconds matter: destructive tests call
 * this often); a drifted replica is re-cloned; a pg1 that is no longer a
 * clean primary means a full rebuild.
 */
async function reset(): Promise<string> {
  const t0 = Date.now();
  log('reset: start');
  resetting = true;
  try {
    return await resetLocked(t0);
  } finally {
    resetting = false;
  }
}

async function resetLocked(t0: number): Promise<string> {
  // Every host fault ends: queued commands are forgotten (a lost host's pending stop must not run after the reset).
  instanceEpoch++;
  hostFaults.clear();
  const wereStopped = [...instancesStopped];
  instancesStopped.clear();
  ssm.forget();
  for (const n of nodes.values()) if (n.frozen) n.setFrozen(false);
  const clientPaths = GATE_PATHS.filter((p) => p !== 'repl');
  for (const g of gates.values()) {
    for (const p of GATE_PATHS) g.healPath(p);
    // Stale client and probe sessions go; replication streams stay (they are the baseline).
    g.sever(clientPaths);
  }
  if (emulator.paused) emulator.pause(false);
  proxy.slowMs = 0;
  faults.clear();
  faultLog.length = 0;
  releaseTaskHolds();
  if (!emulator.pid) {
    await emulator.start();
    writeState();
    ids = await seedAws(ports.emulator, ports.nodes);
    // New ids (zone, secret): the outputs file must name them.
    writeState();
  }
  await resetAwsState(ports.emulator, ports.nodes, ids!);
  // The baseline records were written directly: resolvers see them at once.
  proxy.forgetChanges();
  if (wereStopped.length) {
    instanceEpoch++;
    await labClients(ports.emulator).ec2.send(
      new StartInstancesCommand({ InstanceIds: wereStopped.map((n) => ids!.nodes[n]!.instanceId) }),
    );
  }
  // Gates must see the SGs open before replicas clone or stream through them.
  for (const g of gates.values()) g.sg = { open: true, stale: false };
  const replicas = [...nodes.values()].slice(1);
  const found = await inspectBaseline();
  let how: string;
  if (!found.primaryOk) {
    how = 'full rebuild';
    await buildCluster();
  } else {
    const broken = replicas.filter((r) => !found.replicasOk.has(r.name));
    how = broken.length ? `re-cloned ${broken.map((r) => r.name).join(', ')}` : 'no rebuild needed';
    await Promise.all(broken.map((r) => rebuildReplica(r)));
    await dropStraySlots();
    await waitStreaming(replicas.map((r) => r.name));
  }
  writer.flush();
  reader.flush();
  writeState();
  log(`reset: done in ${Date.now() - t0} ms (${how})`);
  return how;
}

async function shutdown(): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  log('shutting down');
  await proxy.close();
  await writer.close();
  await reader.close();
  await ssm.close();
  for (const g of gates.values()) await g.close();
  await Promise.all([...nodes.values()].map((n) => n.stop('fast', 10000)));
  await emulator.stop();
  fs.rmSync(STATE_FILE, { force: true });
  log('down');
  process.exit(0);
}

type Handler = (body: Record<string, string>) => Promise<unknown>;

function nodeOf(body: Record<string, string>): PostgresNode {
  const n = nodes.get(body.node ?? '');
  if (!n) throw new Error(`unknown node '${body.node}' (expected one of ${[...nodes.keys()].join(', ')})`);
  return n;
}

/** Refuses to act on a node whose host has a fault: nothing reaches it until healHost, cont or reset. */
function unreachable(body: Record<string, string>): void {
  const name = nodeOf(body).name;
  const f = hostFaults.get(name);
  if (f || instancesStopped.has(name))
    throw new Error(`host ${name} is unreachable (${f?.kind ?? 'instance stopped'}): heal it or reset the lab`);
}

function gateOf(body: Record<string, string>): Gate {
  nodeOf(body);
  return gates.get(body.node!)!;
}

function pathOf(body: Record<string, string>): GatePath {
  if (!GATE_PATHS.includes(body.path as GatePath)) {
    throw new Error(`unknown path '${body.path}' (expected one of ${GATE_PATHS.join(', ')})`);
  }
  return body.path as GatePath;
}

const routes: Record<string, Handler> = {
  '/health': async () => ({ ok: true, ready, pid: process.pid }),
  '/state': async () => state(),
  '/gates': async () =>
    Object.fromEntries(
      [...gates].map(([k, g]) => [
        k,
        {
          sgOpen: g.sg.open,
          sgStale: g.sg.stale,
          connections: g.connectionCount,
          perPath: g.connectionCounts(),
          cut: g.cut,
          cutModes: g.cutModes,
          refused: g.refused,
        },
      ]),
    ),
  '/endpoints': async () => {
    const out: Record<string, string[]> = {};
    for (const e of [writer, reader]) {
      try {
        out[e.name] = (await e.lookup()).targets;
      } catch {
        out[e.name] = [];
      }
    }
    return out;
  },
  '/kill': async (b) => {
    const killed = await nodeOf(b).crash();
    writeState();
    return { signalled: killed };
  },
  '/stop': async (b) => ({ signalled: nodeOf(b).setFrozen(true) }),
  '/cont': async (b) => {
    // cont is how a hung host is woken by hand; a lost host needs healHost (its network is gone too).
    if (hostFaults.get(nodeOf(b).name)?.kind === 'hung-host') hostFaults.delete(nodeOf(b).name);
    return { signalled: nodeOf(b).setFrozen(false) };
  },
  '/host-loss': async (b) => {
    const instance = b.instance ?? 'running';
    if (instance !== 'running' && instance !== 'stopped')
      throw new Error(`unknown instance state '${b.instance}' (running or stopped)`);
    await hostLoss(nodeOf(b).name, instance);
    return { lost: true, instance };
  },
  '/hung-host': async (b) => {
    hungHost(nodeOf(b).name);
    return { hung: true };
  },
  '/heal-host': async (b) => {
    await healHost(nodeOf(b).name);
    return { healed: true };
  },
  '/hosts': async () =>
    Object.fromEntries(
      [...nodes.keys()].map((k) => [
        k,
        {
          agent: agentState(k),
          instance: instancesStopped.has(k) ? 'stopped' : 'running',
          fault: hostFaults.get(k) ?? null,
        },
      ]),
    ),
  '/ssm-invocations': async () => ssm.summary(),
  '/ssm-documents': async (b) => {
    ssm.registerDocuments(b.documents as unknown as Record<string, SsmDocument>);
    return { registered: Object.keys(b.documents ?? {}).length };
  },
  '/nodes': async () => Object.fromEntries([...nodes].map(([k, n]) => [k, { pid: n.pid ?? null, frozen: n.frozen }])),
  '/processes': async () => {
    const pids = state().pids;
    return { supervisor: process.pid, ...pids };
  },
  '/pg-start': async (b) => {
    unreachable(b);
    await nodeOf(b).start();
    writeState();
    return { started: true };
  },
  '/pg-stop': async (b) => {
    // A faulted host is out of reach: stopping must not thaw a hung node (its host cannot be told anything).
    unreachable(b);
    await nodeOf(b).stop(b.mode === 'immediate' ? 'immediate' : 'fast');
    writeState();
    return { stopped: true };
  },
  '/pg-wait-exit': async (b) => {
    await nodeOf(b).waitExit();
    return { exited: true };
  },
  '/sever': async (b) => ({ severed: gateOf(b).sever(b.path ? [pathOf(b)] : undefined) }),
  '/cut': async (b) => {
    const mode = (b.mode ?? 'reset') as CutMode;
    if (mode !== 'reset' && mode !== 'blackhole') throw new Error(`unknown cut mode '${b.mode}' (reset or blackhole)`);
    gateOf(b).cutPath(pathOf(b), mode);
    return { cut: true, mode };
  },
  '/heal': async (b) => {
    gateOf(b).healPath(pathOf(b));
    return { healed: true };
  },
  '/flush-dns': async () => {
    writer.flush();
    reader.flush();
    return { flushed: true };
  },
  '/set-writer': async (b) => {
    const spec = nodeOf(b).spec;
    await setRecord(ports.emulator, ids!.hostedZoneId, LAB_WRITER_RECORD, [spec.privateIp]);
    proxy.forgetChanges([LAB_WRITER_RECORD]);
    return { writer: spec.name };
  },
  '/emulator-slow': async (b) => {
    const ms = Number(b.ms ?? 0);
    if (!Number.isFinite(ms) || ms < 0 || ms > 600_000) throw new Error(`ms must be 0..600000, not '${b.ms}'`);
    proxy.slowMs = ms;
    log(`aws endpoint: ${ms ? `every call slowed by ${ms} ms` : 'normal speed'}`);
    return { slowMs: ms };
  },
  '/aws-proxy': async () => ({
    cloud: proxy.cloud.name,
    slowMs: proxy.slowMs,
    calls: proxy.calls,
    route53Changes: proxy.trackedChanges(),
  }),
  '/ssm-hold': async (b) => {
    if (!b.script) throw new Error('script is required');
    const held = b.held !== 'false';
    ssm.hold(b.script, held);
    log(`ssm: delivery of ${b.script} ${held ? 'held' : 'released'}`);
    return { script: b.script, held };
  },
  '/fault-arm': async (b) => {
    const times = Number(b.times ?? 1);
    if (!b.task) throw new Error('task is required');
    if (!Number.isInteger(times) || times < 0) throw new Error(`times must be a whole number, not '${b.times}'`);
    if (times === 0) faults.delete(b.task);
    else faults.set(b.task, times);
    log(`fault: ${b.task} fails after its side effect ${times} time(s)`);
    return { task: b.task, times };
  },
  // Asked by the task shim after the real handler succeeded: should this invocation fail anyway?
  '/fault-take': async (b) => {
    const left = faults.get(b.task ?? '') ?? 0;
    const failed = left > 0;
    if (left > 1) faults.set(b.task!, left - 1);
    else faults.delete(b.task ?? '');
    faultLog.push({ task: b.task ?? '', at: Date.now(), failed });
    if (failed) log(`fault: ${b.task} completed its work and now fails (Pgq.Retriable)`);
    return { fail: failed };
  },
  '/faults': async () => ({ armed: Object.fromEntries(faults), log: faultLog }),
  '/task-hold': async (b) => {
    if (!b.task) throw new Error('task is required');
    if (b.held === 'false') {
      releaseTaskHolds(b.task);
      log(`task hold: ${b.task} released`);
    } else {
      if (!taskHolds.has(b.task)) taskHolds.set(b.task, []);
      log(`task hold: ${b.task} invocations wait before their handler runs`);
    }
    return { task: b.task, held: b.held !== 'false' };
  },
  '/task-holds': async () =>
    Object.fromEntries([...taskHolds].map(([k, w]) => [k, w.map(({ candidate, at }) => ({ candidate, at }))])),
  // Asked by the task shim before the real handler runs: answers once the task is not (or no longer) held.
  '/task-hold-wait': async (b) => {
    const waiters = taskHolds.get(b.task ?? '');
    if (!waiters) return { held: false };
    log(`task hold: a ${b.task} invocation (candidate ${b.candidate || 'none'}) waits`);
    await new Promise<void>((resolve) => {
      // Bounded: a drill that never releases must not hang a run past the function's own timeout.
      const timer = setTimeout(resolve, 120_000);
      waiters.push({
        candidate: b.candidate ?? '',
        at: Date.now(),
        release: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
    return { held: true };
  },
  '/emulator-stop': async () => {
    await emulator.stop();
    writeState();
    return { stopped: true };
  },
  '/emulator-pause': async () => ({ paused: emulator.pause(true) }),
  '/emulator-resume': async () => ({ resumed: emulator.pause(false) }),
  '/emulator-start': async () => {
    // ministack keeps state in memory: a restarted emulator is empty, so the caller re-seeds with /reset.
    await emulator.start();
    writeState();
    return { started: true };
  },
  '/reset': async () => ({ reset: true, how: await exclusive(reset) }),
  '/down': async () => {
    setTimeout(() => void shutdown(), 10);
    return { stopping: true };
  },
};

function serveControl(): Promise<void> {
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => {
      raw += d;
    });
    req.on('end', () => {
      const route = routes[(req.url ?? '').split('?')[0]!];
      const reply = (code: number, body: unknown) => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (!route) return reply(404, { error: `no route ${req.url}` });
      let body: Record<string, string> = {};
      try {
        body = raw ? JSON.parse(raw) : {};
      } catch {
        return reply(400, { error: 'body is not JSON' });
      }
      route(body).then(
        (out) => reply(200, out),
        (err: Error) => reply(400, { error: err.message }),
      );
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.controlPort, '127.0.0.1', () => resolve());
  });
}

async function main(): Promise<void> {
  fs.mkdirSync(LAB_DIR, { recursive: true });
  log(
    `supervisor ${process.pid} starting (${opts.mode} replication, port base ${opts.portBase}, ${(opts.cloud ?? IDEAL_PROFILE).name} cloud profile)`,
  );
  // Checked again here (the CLI checked too): a port can be taken between the two.
  await preflight(ports, opts.controlPort);
  await serveControl();
  writeState();
  for (const g of gates.values()) await g.listen();
  await proxy.listen();
  await writer.listen();
  await reader.listen();
  await ssm.listen();
  log('progress: starting the AWS emulator and PostgreSQL pg1');
  // The emulator (~2 s to boot) and initdb of pg1 (~1 s) overlap; replicas wait for the seed,
  // since they stream through pg1's gate, which admits nothing before it has seen the SG.
  const emulatorUp = emulator.start().then(() => writeState());
  const [p1, ...replicas] = [...nodes.values()];
  const primaryUp = (async () => {
    log('generating the lab CA and node certificates');
    generateLabTls([...nodes.keys()], LAB_ZONE_NAME);
    tlsGenerated = true;
    for (const n of nodes.values()) n.wipe();
    await p1!.initPrimary(opts.mode);
    await p1!.start();
    writeState();
    await p1!.bootstrap();
    baselineConfig.set(p1!.name, p1!.configFingerprint());
  })();
  await Promise.all([emulatorUp, primaryUp]);
  log('progress: seeding VPC, subnets, security groups, instances, private zone, DynamoDB table');
  ids = await seedAws(ports.emulator, ports.nodes);
  void pollSecurityGroups();
  void pollInstances();
  log('progress: cloning pg2 and pg3 from pg1 (pg_basebackup, physical slots)');
  await Promise.all(replicas.map((r) => rebuildReplica(r)));
  await waitStreaming(replicas.map((r) => r.name));
  ready = true;
  writeState();
  log('progress: ready');
}

// One bad socket must not take every gate and endpoint down with it: log and keep serving.
process.on('uncaughtException', (err) => log(`uncaught: ${err.stack ?? err.message}`));
process.on('unhandledRejection', (err) => log(`unhandled rejection: ${(err as Error)?.stack ?? String(err)}`));
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
main().catch(async (err: Error) => {
  log(`fatal: ${err.message}`);
  // Leave nothing half-started.
  shuttingDown = true;
  await proxy.close().catch(() => undefined);
  await writer.close().catch(() => undefined);
  await reader.close().catch(() => undefined);
  await ssm.close().catch(() => undefined);
  for (const g of gates.values()) await g.close().catch(() => undefined);
  await Promise.all([...nodes.values()].map((n) => n.stop('immediate').catch(() => undefined)));
  await emulator.stop().catch(() => undefined);
  fs.rmSync(STATE_FILE, { force: true });
  process.exit(1);
});

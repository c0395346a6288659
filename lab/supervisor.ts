/**
 * The lab supervisor: one detached process that owns every moving part of the
 * lab (the emulator, three postmasters, the gates, the writer/reader endpoints)
 * so each child is reaped the moment it dies, and so all of it outlives the CLI
 * call that started it. It answers a small JSON control API on loopback.
 *
 * Started by `Lab.up()` as `node --import tsx lab/supervisor.ts <options-json>`.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import { Emulator } from './emulator';
import { RecordEndpoint } from './endpoint';
import { Gate } from './gate';
import { LAB_DIR, PG_BIN, STATE_FILE, SUPERVISOR_LOG } from './paths';
import { PostgresNode, type ReplicationMode, sleep } from './postgres-node';
import {
  coversPostgres,
  getRecord,
  labAwsEnv,
  labClients,
  resetAwsState,
  type SeededIds,
  seedAws,
  setRecord,
} from './seed';
import type { LabState } from './state';
import { GATE_PATHS, type GatePath, LAB_READER_RECORD, LAB_WRITER_RECORD, labPorts } from './topology';

interface SupervisorOptions {
  portBase: number;
  controlPort: number;
  mode: ReplicationMode;
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
let sgPollOk = true;
let shuttingDown = false;

function ipToGatePort(ip: string): number | undefined {
  return ports.nodes.find((n) => n.privateIp === ip)?.gatePorts.client;
}

function recordResolver(name: string) {
  return async () => {
    if (!ids) throw new Error('not seeded');
    const r = await getRecord(ports.emulator, ids.hostedZoneId, name);
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

/** Polls every node's security group; gates keep their last state when the emulator does not answer (fail static). */
async function pollSecurityGroups(): Promise<void> {
  while (!shuttingDown) {
    if (ids) {
      try {
        const { ec2 } = labClients(ports.emulator);
        const groupIds = Object.values(ids.nodes).map((n) => n.securityGroupId);
        const res = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: groupIds }), {
          abortSignal: AbortSignal.timeout(1000),
        });
        for (const [name, n] of Object.entries(ids.nodes)) {
          const sg = res.SecurityGroups?.find((g) => g.GroupId === n.securityGroupId);
          const gate = gates.get(name)!;
          const open = coversPostgres(sg?.IpPermissions);
          if (open !== gate.sg.open) log(`gate ${name}: security group ${open ? 'opened' : 'closed'}`);
          gate.sg = { open, stale: false };
        }
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

async function assertPortFree(port: number, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', () => reject(new Error(`port ${port} (${what}) is already in use`)));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
  });
}

async function preflight(): Promise<void> {
  for (const bin of ['postgres', 'initdb', 'pg_basebackup', 'pg_ctl', 'pg_rewind']) {
    if (!fs.existsSync(`${PG_BIN}/${bin}`)) throw new Error(`missing PostgreSQL binary ${PG_BIN}/${bin}`);
  }
  const wanted: [number, string][] = [
    [ports.emulator, 'emulator'],
    [ports.writer, 'writer endpoint'],
    [ports.reader, 'reader endpoint'],
    [opts.controlPort, 'lab control'],
  ];
  for (const n of ports.nodes) {
    wanted.push([n.pgPort, `${n.name} postgres`]);
    for (const p of GATE_PATHS) wanted.push([n.gatePorts[p], `${n.name} gate ${p}`]);
  }
  for (const [p, what] of wanted) await assertPortFree(p, what);
}

/** Builds pg1 as primary and clones pg2/pg3 from it, each streaming through pg1's repl gate. */
async function buildCluster(): Promise<void> {
  const [p1, ...replicas] = [...nodes.values()];
  for (const n of nodes.values()) {
    await n.stop('immediate');
    n.wipe();
  }
  log('initdb pg1');
  await p1!.initPrimary(opts.mode);
  await p1!.start();
  await p1!.bootstrap();
  await Promise.all(
    replicas.map(async (r) => {
      log(`pg_basebackup ${r.name}`);
      await r.cloneFrom(p1!, p1!.spec.gatePorts.repl);
      await r.start();
    }),
  );
  await waitStreaming(replicas.length);
}

async function waitStreaming(count: number, timeoutMs = 20000): Promise<void> {
  const p1 = [...nodes.values()][0]!;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = p1.localClient();
    try {
      await c.connect();
      const r = await c.query("SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming'");
      if (r.rows[0].n >= count) return;
    } catch {
      // not up yet
    } finally {
      await c.end().catch(() => undefined);
    }
    if (Date.now() > deadline) throw new Error(`replicas did not start streaming within ${timeoutMs} ms`);
    await sleep(100);
  }
}

function state(): LabState {
  return {
    supervisorPid: process.pid,
    controlPort: opts.controlPort,
    portBase: opts.portBase,
    mode: opts.mode,
    ports,
    aws: labAwsEnv(ports.emulator),
    ids: ids!,
    pids: {
      emulator: emulator.pid,
      ...Object.fromEntries([...nodes].map(([k, n]) => [k, n.pid])),
    },
    startedAt: new Date().toISOString(),
  };
}

function writeState(): void {
  fs.writeFileSync(STATE_FILE, JSON.stringify(state(), null, 2));
}

async function reset(): Promise<void> {
  log('reset: rebuilding the cluster');
  for (const g of gates.values()) {
    for (const p of GATE_PATHS) g.healPath(p);
    g.sever();
  }
  if (!emulator.pid) {
    await emulator.start();
    ids = await seedAws(ports.emulator, ports.nodes);
  }
  await resetAwsState(ports.emulator, ports.nodes, ids!);
  // Gates must see the SGs open before replicas clone through them.
  for (const g of gates.values()) g.sg = { open: true, stale: false };
  await buildCluster();
  writer.flush();
  reader.flush();
  writeState();
  log('reset: done');
}

async function shutdown(): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  log('shutting down');
  await writer.close();
  await reader.close();
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
  '/health': async () => ({ ok: true, ready: Boolean(ids), pid: process.pid }),
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
  '/kill': async (b) => ({ signalled: nodeOf(b).signal('SIGKILL') }),
  '/stop': async (b) => ({ signalled: nodeOf(b).signal('SIGSTOP') }),
  '/cont': async (b) => ({ signalled: nodeOf(b).signal('SIGCONT') }),
  '/pg-start': async (b) => {
    await nodeOf(b).start();
    writeState();
    return { started: true };
  },
  '/pg-stop': async (b) => {
    await nodeOf(b).stop(b.mode === 'immediate' ? 'immediate' : 'fast');
    writeState();
    return { stopped: true };
  },
  '/pg-wait-exit': async (b) => {
    await nodeOf(b).waitExit();
    return { exited: true };
  },
  '/sever': async (b) => ({ severed: gateOf(b).sever() }),
  '/cut': async (b) => {
    gateOf(b).cutPath(pathOf(b));
    return { cut: true };
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
    return { writer: spec.name };
  },
  '/emulator-stop': async () => {
    await emulator.stop();
    return { stopped: true };
  },
  '/emulator-start': async () => {
    // ministack keeps state in memory: a restarted emulator is empty, so the caller re-seeds with /reset.
    await emulator.start();
    return { started: true };
  },
  '/reset': async () => {
    await reset();
    return { reset: true };
  },
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
  log(`supervisor ${process.pid} starting (${opts.mode} replication, port base ${opts.portBase})`);
  await preflight();
  await serveControl();
  log('progress: starting the AWS emulator');
  const emulatorUp = emulator.start();
  for (const g of gates.values()) await g.listen();
  await writer.listen();
  await reader.listen();
  await emulatorUp;
  log('progress: seeding VPC, subnets, security groups, instances, private zone, table');
  ids = await seedAws(ports.emulator, ports.nodes);
  void pollSecurityGroups();
  log('progress: building PostgreSQL pg1 (primary), pg2 and pg3 (replicas)');
  await buildCluster();
  writeState();
  log('progress: ready');
}

process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
main().catch(async (err: Error) => {
  log(`fatal: ${err.message}`);
  // Leave nothing half-started.
  shuttingDown = true;
  await writer.close().catch(() => undefined);
  await reader.close().catch(() => undefined);
  for (const g of gates.values()) await g.close().catch(() => undefined);
  await Promise.all([...nodes.values()].map((n) => n.stop('immediate').catch(() => undefined)));
  await emulator.stop().catch(() => undefined);
  process.exit(1);
});

import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { roleSetupSql } from '../../lambdas/adapters/postgres/roles';
import { buildConninfo } from '../../lambdas/core/conninfo';
import { asPostgres, mkdirForPostgres, runAsPostgresAsync } from './os-user';
import { nodeDataDir, nodeLogFile, nodeSocketDir, PG_BIN } from './paths';
import { childPids, signalQuietly, waitGone } from './procs';
import { LAB_CA_FILE, labServerCert } from './tls';
import {
  LAB_CONTROLLER_PASSWORD,
  LAB_CONTROLLER_USER,
  LAB_DB_NAME,
  LAB_DB_PASSWORD,
  LAB_DB_USER,
  LAB_REPL_PASSWORD,
  LAB_REPL_USER,
  LAB_REWIND_PASSWORD,
  LAB_REWIND_USER,
  type LabNodeSpec,
} from './topology';

/** Replication mode of the lab cluster. */
export type ReplicationMode = 'sync' | 'async';

/** Every node is named so the setting stays right after any promotion (docs/postgres-notes.md). */
export const SYNC_NAMES = "'ANY 1 (pg1, pg2, pg3)'";

function serverConf(mode: ReplicationMode): string {
  return [
    "listen_addresses = '127.0.0.1'",
    'shared_buffers = 16MB',
    'max_connections = 40',
    'wal_level = replica',
    'max_wal_senders = 10',
    'max_replication_slots = 10',
    // pg_rewind needs hint bits WAL-logged (or checksums).
    'wal_log_hints = on',
    'hot_standby = on',
    'hot_standby_feedback = on',
    'wal_keep_size = 128MB',
    'wal_receiver_status_interval = 1s',
    // The 5 s default delays every re-connect of a re-pointed replica.
    'wal_retrieve_retry_interval = 1s',
    'wal_sender_timeout = 5s',
    'wal_receiver_timeout = 5s',
    // Process crashes (kill -9) never lose the OS cache, so fsync buys the lab nothing but slowness.
    'fsync = off',
    'full_page_writes = on',
    `synchronous_standby_names = ${mode === 'sync' ? SYNC_NAMES : "''"}`,
    'synchronous_commit = on',
    "log_line_prefix = '%m [%p] %q%a '",
    'logging_collector = off',
    '',
  ].join('\n');
}

/** The role/password pairs a lab host's passfile holds: what the host scripts' write_passfile writes. */
const LAB_PASSFILE_ENTRIES: readonly (readonly [string, string])[] = [
  [LAB_REPL_USER, LAB_REPL_PASSWORD],
  [LAB_REWIND_USER, LAB_REWIND_PASSWORD],
];

const HBA = [
  'local   all          all                        trust',
  // The controller's and the replicas' roles only over TLS: a client that skips TLS is refused before any password.
  `hostnossl all        ${LAB_DB_USER}    127.0.0.1/32  reject`,
  `hostnossl all        ${LAB_CONTROLLER_USER}  127.0.0.1/32  reject`,
  `hostnossl all        ${LAB_REWIND_USER}  127.0.0.1/32  reject`,
  `hostnossl replication ${LAB_REPL_USER} 127.0.0.1/32  reject`,
  `hostssl replication  ${LAB_REPL_USER}  127.0.0.1/32  scram-sha-256`,
  'host    all          all         127.0.0.1/32   scram-sha-256',
  '',
].join('\n');

/** libpq's TLS keywords for the lab's replication connections: verify-full against the lab CA (IP SAN 127.0.0.1). */
export const LAB_LIBPQ_TLS = `sslmode=verify-full sslrootcert=${LAB_CA_FILE}`;

/**
 * Where a lab node's host keeps its passfile: next to the data directory, where infra/host-scripts/common.sh
 * (PGQ_PASSFILE) writes it on a real host.
 */
export function nodePassfile(dataDir: string): string {
  return path.join(path.dirname(dataDir), '.pgpass-pgquorum');
}

/**
 * Connection settings a replica uses to stream from `upstreamPort` (a gate's repl port). The password stays in
 * the node's passfile: postgresql.auto.conf travels in every base backup and rewind.
 */
export function primaryConninfo(node: string, upstreamPort: number, passfile: string): string {
  return buildConninfo({
    host: '127.0.0.1',
    port: upstreamPort,
    user: LAB_REPL_USER,
    applicationName: node,
    passfile,
    connectTimeoutSec: 2,
    tlsKeywords: [LAB_LIBPQ_TLS],
  });
}

/**
 * One PostgreSQL node of the lab, run as a direct child of the supervisor so a
 * killed postmaster is reaped at once (a lingering zombie PID blocks pg_ctl and
 * pg_rewind, see docs/postgres-notes.md).
 */
export class PostgresNode {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly spec: LabNodeSpec,
    private readonly log: (msg: string) => void,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  get dataDir(): string {
    return nodeDataDir(this.spec.name);
  }

  /** PID of the postmaster, when running. */
  get pid(): number | undefined {
    return this.child && this.child.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /** Removes the node's data so it can be rebuilt. */
  wipe(): void {
    fs.rmSync(path.dirname(this.dataDir), { recursive: true, force: true });
  }

  /** initdb as the first primary, with the lab's settings, roles and heartbeat table created by bootstrap(). */
  async initPrimary(mode: ReplicationMode): Promise<void> {
    this.prepareDirs();
    await runAsPostgresAsync(path.join(PG_BIN, 'initdb'), [
      '-D',
      this.dataDir,
      '-U',
      'postgres',
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '--no-instructions',
      '-E',
      'UTF8',
      '--locale=C.UTF-8',
    ]);
    fs.appendFileSync(path.join(this.dataDir, 'postgresql.conf'), serverConf(mode));
    fs.writeFileSync(path.join(this.dataDir, 'pg_hba.conf'), HBA);
    this.writePassfile();
  }

  /** The host's passfile, as write_passfile in infra/host-scripts/common.sh writes it (0600, owned by postgres). */
  writePassfile(): void {
    const field = (v: string) => v.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
    const file = nodePassfile(this.dataDir);
    const lines = LAB_PASSFILE_ENTRIES.map(([u, p]) => `*:*:*:${field(u)}:${field(p)}`);
    fs.writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
    fs.chmodSync(file, 0o600);
    const user = asPostgres();
    if (user.uid !== undefined) fs.chownSync(file, user.uid, user.gid!);
  }

  /**
   * Creates roles and the heartbeat table. Runs with synchronous_commit=local:
   * no standby exists yet, so a synchronous commit would wait forever.
   */
  async bootstrap(): Promise<void> {
    const c = this.localClient();
    await c.connect();
    try {
      await c.query('SET synchronous_commit = local');
      await c.query(`CREATE ROLE ${LAB_DB_USER} LOGIN SUPERUSER PASSWORD '${LAB_DB_PASSWORD}'`);
      // The controller, replication and rewind roles exactly as an operator creates them on AWS.
      for (const sql of roleSetupSql(
        { controller: LAB_CONTROLLER_USER, replication: LAB_REPL_USER, rewind: LAB_REWIND_USER },
        { controller: LAB_CONTROLLER_PASSWORD, replication: LAB_REPL_PASSWORD, rewind: LAB_REWIND_PASSWORD },
      )) {
        await c.query(sql);
      }
      await c.query(`GRANT ALL ON pgquorum_heartbeat TO ${LAB_DB_USER}`);
      await c.query('CHECKPOINT');
    } finally {
      await c.end();
    }
  }

  /** Clones this node from `primary` (direct port) with a physical slot, then points it at the primary's gate. */
  async cloneFrom(primary: PostgresNode, upstreamGatePort: number): Promise<void> {
    this.prepareDirs();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
    await runAsPostgresAsync(
      path.join(PG_BIN, 'pg_basebackup'),
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(primary.spec.pgPort),
        '-U',
        LAB_REPL_USER,
        '-D',
        this.dataDir,
        '-X',
        'stream',
        '-C',
        '-S',
        this.name,
        '-c',
        'fast',
      ],
      { PGPASSWORD: LAB_REPL_PASSWORD, PGSSLMODE: 'verify-full', PGSSLROOTCERT: LAB_CA_FILE },
    );
    this.writePassfile();
    this.configureAsStandby(upstreamGatePort);
  }

  /** Writes standby.signal and the upstream connection (through the upstream's gate). */
  configureAsStandby(upstreamGatePort: number): void {
    fs.writeFileSync(path.join(this.dataDir, 'standby.signal'), '');
    const auto = path.join(this.dataDir, 'postgresql.auto.conf');
    const kept = fs.existsSync(auto)
      ? fs
          .readFileSync(auto, 'utf8')
          .split('\n')
          .filter((l) => !/^\s*(primary_conninfo|primary_slot_name)\s*=/.test(l))
      : [];
    kept.push(
      `primary_conninfo = '${primaryConninfo(this.name, upstreamGatePort, nodePassfile(this.dataDir)).replace(/'/g, "''")}'`,
      `primary_slot_name = '${this.name}'`,
      '',
    );
    fs.writeFileSync(auto, kept.join('\n').replace(/\n{3,}/g, '\n\n'));
    const user = asPostgres();
    if (user.uid !== undefined) fs.chownSync(auto, user.uid, user.gid!);
  }

  /** Starts the postmaster as a child and waits until it accepts connections. */
  async start(timeoutMs = 20000): Promise<void> {
    if (this.pid) return;
    const pidFile = path.join(this.dataDir, 'postmaster.pid');
    // Only our own child could have written it, and our child is gone: a stale file from a kill -9.
    fs.rmSync(pidFile, { force: true });
    const out = fs.openSync(nodeLogFile(this.name), 'a');
    const child = spawn(
      path.join(PG_BIN, 'postgres'),
      [
        '-D',
        this.dataDir,
        '-p',
        String(this.spec.pgPort),
        '-k',
        nodeSocketDir(this.name),
        '-c',
        `cluster_name=${this.name}`,
        // On the command line, not in postgresql.conf: pg_basebackup and pg_rewind copy the source's configuration.
        '-c',
        'ssl=on',
        '-c',
        `ssl_cert_file=${labServerCert(this.name).cert}`,
        '-c',
        `ssl_key_file=${labServerCert(this.name).key}`,
      ],
      { ...asPostgres(), cwd: '/', stdio: ['ignore', out, out] },
    );
    fs.closeSync(out);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => this.log(`${this.name}: postmaster ${child.pid} exited (${signal ?? code})`));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `${this.name} did not start (${lastFatal(nodeLogFile(this.name))}): see ${nodeLogFile(this.name)}`,
        );
      }
      if (await this.accepting()) return;
      if (Date.now() > deadline) throw new Error(`${this.name} did not accept connections within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /**
   * SIGSTOP / SIGCONT freeze or thaw the node's whole process tree (postmaster,
   * backends, walsender), as a hung VM would be: stopping only the postmaster
   * would leave open sessions committing and the walsender streaming.
   */
  setFrozen(frozen: boolean): boolean {
    const pid = this.pid;
    if (!pid) return false;
    if (frozen) {
      // Postmaster first: once stopped it cannot fork a child we would miss.
      process.kill(pid, 'SIGSTOP');
      for (const c of childPids(pid)) signalQuietly(c, 'SIGSTOP');
    } else {
      for (const c of childPids(pid)) signalQuietly(c, 'SIGCONT');
      process.kill(pid, 'SIGCONT');
    }
    this.frozen = frozen;
    return true;
  }

  /** True while the node is frozen by setFrozen(true). */
  frozen = false;

  /**
   * SIGKILL of the postmaster (a crash). Resolves once the postmaster is reaped
   * and its children have exited too, so an immediate start() does not trip over
   * shared memory still attached by an orphaned backend.
   */
  async crash(timeoutMs = 10000): Promise<boolean> {
    const pid = this.pid;
    if (!pid) return false;
    const children = childPids(pid);
    process.kill(pid, 'SIGKILL');
    // Frozen children could never notice the postmaster's death.
    for (const c of children) signalQuietly(c, 'SIGCONT');
    this.frozen = false;
    await this.exited;
    if (!(await waitGone(children, timeoutMs))) {
      for (const c of children) signalQuietly(c, 'SIGKILL');
      await waitGone(children, 2000);
    }
    return true;
  }

  /** Fast shutdown (clean: writes a shutdown checkpoint); resolves when the postmaster has exited and been reaped. */
  async stop(mode: 'fast' | 'immediate' = 'fast', timeoutMs = 20000): Promise<void> {
    const pid = this.pid;
    if (!pid) return;
    // A frozen (SIGSTOP) node cannot act on SIGINT until continued.
    if (this.frozen) this.setFrozen(false);
    const children = childPids(pid);
    process.kill(pid, mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
    const timer = sleep(timeoutMs).then(() => 'timeout');
    if ((await Promise.race([this.exited.then(() => 'exited'), timer])) === 'timeout') {
      process.kill(pid, 'SIGKILL');
      await this.exited;
    }
    await waitGone(children, 5000);
  }

  /** Resolves once the postmaster process is gone and reaped. */
  waitExit(): Promise<void> {
    return this.exited;
  }

  /** The configuration files a test could have changed (ALTER SYSTEM, pg_rewind copies): compared by reset(). */
  configFingerprint(): string {
    const read = (f: string) => {
      try {
        return fs.readFileSync(path.join(this.dataDir, f), 'utf8');
      } catch {
        return '<missing>';
      }
    };
    return [
      read('postgresql.conf'),
      read('postgresql.auto.conf'),
      read('pg_hba.conf'),
      String(fs.existsSync(path.join(this.dataDir, 'standby.signal'))),
      String(fs.existsSync(path.join(this.dataDir, 'recovery.signal'))),
    ].join('\0');
  }

  /** A superuser client over the node's own unix socket (bypasses gates: for the lab's housekeeping only). */
  localClient(): Client {
    return new Client({
      host: nodeSocketDir(this.name),
      port: this.spec.pgPort,
      user: 'postgres',
      database: LAB_DB_NAME,
      connectionTimeoutMillis: 2000,
    });
  }

  private async accepting(): Promise<boolean> {
    const c = this.localClient();
    try {
      await c.connect();
      await c.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  private prepareDirs(): void {
    const nodeDir = path.dirname(this.dataDir);
    mkdirForPostgres(nodeDir, 0o755);
    mkdirForPostgres(nodeSocketDir(this.name), 0o755);
    fs.closeSync(fs.openSync(nodeLogFile(this.name), 'a'));
    const user = asPostgres();
    if (user.uid !== undefined) fs.chownSync(nodeLogFile(this.name), user.uid, user.gid!);
  }
}

/** The last FATAL/PANIC line of a server log, for a one-line error. */
function lastFatal(logFile: string): string {
  try {
    const lines = fs.readFileSync(logFile, 'utf8').split('\n');
    const hit = lines.reverse().find((l) => /\b(FATAL|PANIC):/.test(l));
    return hit ? hit.replace(/^.*?\b(FATAL|PANIC):\s*/, '') : 'no FATAL line in its log';
  } catch {
    return 'no log';
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

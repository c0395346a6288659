import tls from 'node:tls';
import { Client } from 'pg';
import { z } from 'zod';
import { buildConninfo } from '../../core/conninfo';
import { ValidationError } from '../../core/errors';
import { compareLsn } from '../../core/lsn';
import { type DbSslMode, tlsCheck } from '../../core/tls';
import type {
  NodeEndpoint,
  PostgresNodePort,
  ProbeResult,
  PromoteResult,
  ReplicationTarget,
  StandbyInfo,
} from '../../ports/postgres-port';
import {
  NodeAuthError,
  NodeTlsError,
  NodeUnreachableError,
  PromotionFailedError,
  ReplayPausedError,
  ReplayTimeoutError,
  RepointFailedError,
  UnexpectedNodeStateError,
} from './errors';

/** Database credentials and timeouts; on AWS they come from Secrets Manager, in the lab from the lab's topology. */
export const pgConfigSchema = z.object({
  user: z.string().min(1),
  password: z.string().min(1),
  database: z.string().min(1).default('postgres'),
  /** TLS to the node (build it from a libpq mode with {@link pgSsl}); false sends everything in clear. */
  ssl: z
    .union([
      z.literal(false),
      z.object({
        rejectUnauthorized: z.boolean().default(true),
        ca: z.string().optional(),
        /** The certificate must name the node (its IP address, or its entry in serverNames). @default true */
        verifyIdentity: z.boolean().default(true),
        /** Per-node host names the certificate is checked against instead of the address (verify-full). */
        serverNames: z.record(z.string(), z.string()).default({}),
      }),
    ])
    .default(false),
  connectTimeoutMs: z.number().int().min(50).default(500),
  statementTimeoutMs: z.number().int().min(50).default(500),
});

/** Validated adapter configuration. */
export type PgConfig = z.infer<typeof pgConfigSchema>;

/**
 * The adapter's `ssl` for a libpq mode (lambdas/core/tls.ts decides what each mode checks). A verify mode without a
 * CA would fall back to Node's public roots, which no private PostgreSQL certificate chains to: the config
 * schemas refuse that combination before it gets here.
 */
export function pgSsl(
  mode: DbSslMode,
  ca?: string,
  serverNames: Readonly<Record<string, string>> = {},
): PgConfig['ssl'] {
  const check = tlsCheck(mode);
  if (!check.encrypt) return false;
  return {
    rejectUnauthorized: check.verifyChain,
    ...(ca && check.verifyChain ? { ca } : {}),
    verifyIdentity: check.verifyIdentity,
    serverNames: check.verifyIdentity ? { ...serverNames } : {},
  };
}

/** Validates the adapter config; the error names the bad field. */
export function parsePgConfig(input: unknown): PgConfig {
  const r = pgConfigSchema.safeParse(input);
  if (!r.success) {
    throw new ValidationError(
      `invalid PostgreSQL config: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return r.data;
}

/**
 * node's TLS options (pg's `ssl`) for one node. pg sends the SSLRequest first and fails on a server that answers
 * `N` (no TLS), so under any mode but disable no startup message, let alone a password, goes out in clear; under
 * the verify modes a certificate that does not chain to the CA (or, verify-full, does not name the node) ends the
 * handshake before the startup message. Every pg client that reaches a node with the controller's role builds its
 * options here.
 */
export function tlsOptionsFor(ssl: PgConfig['ssl'], nodeName: string): false | tls.ConnectionOptions {
  if (ssl === false) return false;
  const name = ssl.verifyIdentity ? ssl.serverNames[nodeName] : undefined;
  return {
    rejectUnauthorized: ssl.rejectUnauthorized,
    ...(ssl.ca ? { ca: ssl.ca } : {}),
    // pg leaves servername unset for an IP address, and node then checks the IP against the certificate's IP SANs.
    ...(name
      ? { servername: name, checkServerIdentity: (_host: string, cert) => tls.checkServerIdentity(name, cert) }
      : {}),
    // verify-ca: the chain is checked (rejectUnauthorized), the name is not.
    ...(ssl.verifyIdentity ? {} : { checkServerIdentity: () => undefined }),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Quotes a string as an SQL literal (ALTER SYSTEM takes no bind parameters). */
export function sqlLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

type Row = Record<string, unknown>;

/** node's certificate-check error codes (OpenSSL's X509 verify results, and node's own host name check). */
const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|CERT_|HOSTNAME_MISMATCH)/;

/** True when a connect failed on TLS (an untrusted or misnamed certificate, or a server without TLS). */
function isTlsFailure(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return (
    (typeof e.code === 'string' && TLS_CODES.test(e.code)) ||
    /does not support SSL connections|establishing an SSL connection/.test(String(e.message))
  );
}

/** SQLSTATE class 28, invalid authorization: a wrong password (28P01), no pg_hba.conf entry or a reject line (28000). */
function isAuthFailure(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('28');
}

/** The controller's login, as the adapter holds it. */
export interface PgCredentials {
  readonly user: string;
  readonly password: string;
}

/** Options of {@link PgNodeAdapter}. */
export interface PgNodeAdapterOptions {
  /**
   * Reads the credentials again (on AWS, the secret's current version). Called after a node refuses them, at most
   * once per `refreshEveryMs`: a rotated password then needs no redeploy, and a refusal that a fresh read does not
   * cure costs one read per interval, not one per probe. @default none: the credentials are fixed
   */
  readonly refreshCredentials?: () => Promise<PgCredentials>;
  /** @default 30000 */
  readonly refreshEveryMs?: number;
}

/**
 * The PostgreSQL side of the controller, over `pg`. Every call has a hard,
 * client-side deadline: a SIGSTOPped server accepts TCP (the kernel completes
 * the handshake) but never answers, and neither connect_timeout nor
 * statement_timeout end that wait, so the socket is destroyed by our own timer.
 */
export class PgNodeAdapter implements PostgresNodePort {
  private creds: PgCredentials;
  private lastRefreshAt = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<boolean> | undefined;

  constructor(
    private readonly cfg: PgConfig,
    private readonly opts: PgNodeAdapterOptions = {},
  ) {
    this.creds = { user: cfg.user, password: cfg.password };
  }

  /**
   * After a refusal: reads the credentials again (one read in flight, at most one per interval). True when they
   * changed, so the caller tries once more with them.
   */
  private refreshAfterRefusal(): Promise<boolean> {
    const read = this.opts.refreshCredentials;
    if (!read) return Promise.resolve(false);
    if (this.refreshing) return this.refreshing;
    if (Date.now() - this.lastRefreshAt < (this.opts.refreshEveryMs ?? 30000)) return Promise.resolve(false);
    this.lastRefreshAt = Date.now();
    this.refreshing = read()
      .then((next) => {
        const changed = next.user !== this.creds.user || next.password !== this.creds.password;
        this.creds = next;
        return changed;
      })
      .catch(() => false)
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  private tlsOptions(node: NodeEndpoint): false | tls.ConnectionOptions {
    return tlsOptionsFor(this.cfg.ssl, node.name);
  }

  /**
   * Runs `fn` on a fresh connection, all within `deadlineMs`. A node that refuses the credentials gets one more
   * try when reading them again changed them (a rotation), within the same deadline.
   */
  private async withClient<T>(node: NodeEndpoint, deadlineMs: number, fn: (c: Client) => Promise<T>): Promise<T> {
    const until = Date.now() + deadlineMs;
    const tried = this.creds;
    try {
      return await this.withClientOnce(node, deadlineMs, fn);
    } catch (err) {
      if (!(err instanceof NodeAuthError)) throw err;
      // A concurrent call may have read the new credentials while this one was refused with the old ones.
      if (this.creds === tried && !(await this.refreshAfterRefusal())) throw err;
      const left = until - Date.now();
      if (left <= 0) throw err;
      return this.withClientOnce(node, left, fn);
    }
  }

  private async withClientOnce<T>(node: NodeEndpoint, deadlineMs: number, fn: (c: Client) => Promise<T>): Promise<T> {
    const c = new Client({
      host: node.host,
      port: node.port,
      user: this.creds.user,
      password: this.creds.password,
      database: this.cfg.database,
      ssl: this.tlsOptions(node),
      connectionTimeoutMillis: this.cfg.connectTimeoutMs,
      statement_timeout: this.cfg.statementTimeoutMs,
      application_name: 'pgquorum',
    });
    c.on('error', () => undefined);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const stream = (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
        stream?.destroy();
        reject(
          new NodeUnreachableError(`${node.name} (${node.host}:${node.port}) did not answer within ${deadlineMs} ms`),
        );
      }, deadlineMs);
    });
    try {
      return await Promise.race([
        (async () => {
          try {
            await c.connect();
          } catch (err) {
            const msg = `${node.name} (${node.host}:${node.port}): ${(err as Error).message}`;
            if (isTlsFailure(err)) throw new NodeTlsError(`${msg} (TLS: nothing was sent to it)`);
            if (isAuthFailure(err)) throw new NodeAuthError(msg);
            throw new NodeUnreachableError(msg);
          }
          return fn(c);
        })(),
        deadline,
      ]);
    } finally {
      clearTimeout(timer);
      void c.end().catch(() => undefined);
    }
  }

  private async rows(c: Client, sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await c.query(sql, params)).rows as Row[];
  }

  /** Probe deadline: connect plus two statements, bounded well under 1.5 s with the defaults. */
  get probeDeadlineMs(): number {
    return this.cfg.connectTimeoutMs + 2 * this.cfg.statementTimeoutMs;
  }

  async probe(
    node: NodeEndpoint,
    opts: { heartbeatId?: number; writer?: string; heartbeat?: boolean } = {},
  ): Promise<ProbeResult> {
    const t0 = Date.now();
    try {
      return await this.withClient(node, this.probeDeadlineMs, async (c) => {
        const [r] = await this.rows(
          c,
          `SELECT pg_is_in_recovery() AS rec,
                  CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS current_lsn,
                  pg_last_wal_receive_lsn()::text AS receive_lsn,
                  pg_last_wal_replay_lsn()::text AS replay_lsn,
                  CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS replay_paused,
                  CASE WHEN pg_is_in_recovery()
                       THEN coalesce((SELECT received_tli FROM pg_stat_wal_receiver), (SELECT timeline_id FROM pg_control_checkpoint()))
                       -- the control file lags a fresh promotion; the current WAL segment's name does not
                       ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS timeline,
                  (SELECT status FROM pg_stat_wal_receiver) AS wr_status,
                  (SELECT sender_host || ':' || sender_port FROM pg_stat_wal_receiver) AS upstream,
                  current_setting('synchronous_standby_names') AS sync_names`,
        );
        if (!r) throw new NodeUnreachableError(`${node.name}: empty probe answer`);
        const base = {
          node: node.name,
          timeline: Number(r.timeline),
          currentLsn: (r.current_lsn as string | null) ?? null,
          receiveLsn: (r.receive_lsn as string | null) ?? null,
          replayLsn: (r.replay_lsn as string | null) ?? null,
        };
        if (r.rec) {
          return {
            ...base,
            ok: true,
            latencyMs: Date.now() - t0,
            role: 'replica' as const,
            streaming: r.wr_status === 'streaming',
            replayPaused: r.replay_paused === true,
            upstream: (r.upstream as string | null) ?? null,
          };
        }
        const standbys: StandbyInfo[] = (
          await this.rows(
            c,
            `SELECT application_name, state, sync_state, replay_lsn::text AS replay_lsn,
                    (extract(epoch FROM now() - backend_start) * 1000)::bigint AS streaming_for_ms
               FROM pg_stat_replication`,
          )
        ).map((s) => ({
          name: String(s.application_name),
          state: String(s.state),
          syncState: String(s.sync_state),
          replayLsn: (s.replay_lsn as string | null) ?? null,
          ...(s.streaming_for_ms != null ? { streamingForMs: Number(s.streaming_for_ms) } : {}),
        }));
        const syncStandbyMissing =
          String(r.sync_names).trim() !== '' &&
          !standbys.some((s) => s.state === 'streaming' && (s.syncState === 'sync' || s.syncState === 'quorum'));
        let heartbeatOk = true;
        let error: string | undefined;
        if (opts.heartbeat !== false) {
          try {
            // Local commit: a missing sync standby must show as syncStandbyMissing, not as a dead primary.
            await c.query(
              `BEGIN; SET LOCAL synchronous_commit = local;
               INSERT INTO pgquorum_heartbeat (id, at, writer) VALUES (${Number(opts.heartbeatId ?? 0)}, now(), ${sqlLiteral(opts.writer ?? 'pgquorum')})
               ON CONFLICT (id) DO UPDATE SET at = excluded.at, writer = excluded.writer; COMMIT;`,
            );
          } catch (err) {
            heartbeatOk = false;
            error = `heartbeat write failed: ${(err as Error).message}`;
            await c.query('ROLLBACK').catch(() => undefined);
          }
        }
        return {
          ...base,
          ok: heartbeatOk,
          latencyMs: Date.now() - t0,
          role: 'primary' as const,
          standbys,
          heartbeatOk,
          syncStandbyMissing,
          syncStandbyNames: String(r.sync_names),
          ...(error ? { error } : {}),
        };
      });
    } catch (err) {
      return {
        node: node.name,
        ok: false,
        latencyMs: Date.now() - t0,
        error: (err as Error).message,
        ...(err instanceof NodeAuthError ? { authFailed: true } : {}),
        ...(err instanceof NodeTlsError ? { tlsFailed: true } : {}),
      };
    }
  }

  async promote(node: NodeEndpoint, opts: { timeoutMs?: number } = {}): Promise<PromoteResult> {
    const timeoutMs = opts.timeoutMs ?? 30000;
    const deadline = Date.now() + timeoutMs;
    let alreadyPrimary = false;
    const t0 = Date.now();
    await this.withClient(node, timeoutMs, async (c) => {
      const [r] = await this.rows(c, 'SELECT pg_is_in_recovery() AS rec');
      if (!r?.rec) {
        alreadyPrimary = true;
        return;
      }
      await c.query(`SET statement_timeout = ${timeoutMs}`);
      const [p] = await this.rows(c, 'SELECT pg_promote(true, $1) AS done', [
        Math.max(1, Math.floor(timeoutMs / 1000)),
      ]);
      if (!p?.done) {
        // pg_promote returns false both when its wait ran out and when the postmaster died while it waited.
        const ms = Date.now() - t0;
        throw new PromotionFailedError(
          ms < timeoutMs - 1000
            ? `${node.name}: pg_promote returned false after ${ms} ms, well before its ${timeoutMs} ms wait ran out: the postmaster exited during the promotion`
            : `${node.name}: pg_promote did not finish within ${timeoutMs} ms (returned false after ${ms} ms)`,
        );
      }
    });
    // Accepting writes is the real test: promotion ends recovery, but the first write proves it.
    for (;;) {
      try {
        return await this.withClient(node, Math.max(1000, this.cfg.connectTimeoutMs * 2), async (c) => {
          await c.query(
            "BEGIN; SET LOCAL synchronous_commit = local; INSERT INTO pgquorum_heartbeat (id, at, writer) VALUES (-1, now(), 'promote') ON CONFLICT (id) DO UPDATE SET at = excluded.at; COMMIT;",
          );
          const [r] = await this.rows(
            c,
            "SELECT pg_current_wal_lsn()::text AS lsn, ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tli",
          );
          return { alreadyPrimary, timeline: Number(r!.tli), lsn: String(r!.lsn) };
        });
      } catch (err) {
        if (Date.now() > deadline) {
          throw new PromotionFailedError(
            `${node.name} did not accept writes within ${timeoutMs} ms: ${(err as Error).message}`,
          );
        }
        await sleep(100);
      }
    }
  }

  async waitForReplay(node: NodeEndpoint, lsn: string, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = 'unknown';
    for (;;) {
      try {
        const r = await this.withClient(node, 2000, async (c) => {
          const [row] = await this.rows(
            c,
            `SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS replay,
                    CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS paused`,
          );
          return {
            replay: String(row!.replay),
            done: row!.replay != null && compareLsn(String(row!.replay), lsn) >= 0,
            paused: row!.paused === true,
          };
        });
        last = String(r.replay);
        if (r.done) return last;
        if (r.paused) {
          throw new ReplayPausedError(
            `${node.name} has WAL replay paused at ${last}, short of ${lsn}: it will not catch up`,
          );
        }
      } catch (err) {
        if (err instanceof ReplayPausedError) throw err;
        last = (err as Error).message;
      }
      if (Date.now() > deadline)
        throw new ReplayTimeoutError(`${node.name} did not replay past ${lsn} within ${timeoutMs} ms (at ${last})`);
      await sleep(50);
    }
  }

  async detachUpstream(replica: NodeEndpoint, opts: { timeoutMs?: number } = {}): Promise<string | null> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const receiver = () =>
      this.withClient(replica, 2000, (c) =>
        this.rows(c, "SELECT sender_host || ':' || sender_port AS upstream, status FROM pg_stat_wal_receiver"),
      );
    const before = await this.withClient(replica, 5000, async (c) => {
      const [r] = await this.rows(
        c,
        "SELECT pg_is_in_recovery() AS rec, (SELECT sender_host || ':' || sender_port FROM pg_stat_wal_receiver) AS upstream",
      );
      if (!r?.rec) throw new UnexpectedNodeStateError(`${replica.name} is not in recovery: there is nothing to detach`);
      // Reloadable since PostgreSQL 13: an empty conninfo stops the WAL receiver and starts none.
      await c.query("ALTER SYSTEM SET primary_conninfo = ''");
      await c.query('SELECT pg_reload_conf()');
      return (r.upstream as string | null) ?? null;
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows = await receiver();
      if (rows.length === 0) return before;
      if (Date.now() > deadline) {
        throw new RepointFailedError(
          `${replica.name} still has a WAL receiver (${rows[0]!.status}, from ${rows[0]!.upstream}) ${timeoutMs} ms after detaching`,
        );
      }
      await sleep(50);
    }
  }

  async ensureSlot(primary: NodeEndpoint, slotName: string): Promise<void> {
    await this.withClient(primary, 5000, async (c) => {
      await c.query(
        `SELECT pg_create_physical_replication_slot($1, true)
         WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`,
        [slotName],
      );
    });
  }

  async repoint(
    replica: NodeEndpoint,
    newPrimary: NodeEndpoint,
    target: ReplicationTarget,
    opts: { timeoutMs?: number; stopWaiting?: (elapsedMs: number) => Promise<string | null> } = {},
  ): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? 20000;
    const t0 = Date.now();
    let nextAsk = t0;
    // The slot first: a replica that connects before it exists is refused and retries only after wal_retrieve_retry_interval.
    await this.ensureSlot(newPrimary, target.slotName);
    const timeline = await this.withClient(newPrimary, 5000, async (c) => {
      const [r] = await this.rows(
        c,
        "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tli",
      );
      return Number(r!.tli);
    });
    const conninfo = buildConninfo({
      host: target.host,
      port: target.port,
      user: target.user,
      applicationName: replica.name,
      passfile: target.passfile,
      connectTimeoutSec: 2,
      ...(target.tlsKeywords ? { tlsKeywords: target.tlsKeywords } : {}),
    });
    await this.withClient(replica, 5000, async (c) => {
      const [r] = await this.rows(c, 'SELECT pg_is_in_recovery() AS rec');
      if (!r?.rec)
        throw new RepointFailedError(`${replica.name} is not in recovery: it cannot follow ${newPrimary.name}`);
      await c.query(`ALTER SYSTEM SET primary_conninfo = ${sqlLiteral(conninfo)}`);
      await c.query(`ALTER SYSTEM SET primary_slot_name = ${sqlLiteral(target.slotName)}`);
      await c.query('SELECT pg_reload_conf()');
    });
    const deadline = Date.now() + timeoutMs;
    let seen = 'no WAL receiver';
    for (;;) {
      const r = await this.withClient(replica, 2000, (c) =>
        this.rows(c, 'SELECT status, received_tli, sender_port FROM pg_stat_wal_receiver'),
      ).catch((err: Error) => [{ status: `error: ${err.message}` }] as Row[]);
      const w = r[0];
      if (w) seen = `status ${w.status}, timeline ${w.received_tli}, sender port ${w.sender_port}`;
      if (w?.status === 'streaming' && Number(w.sender_port) === target.port && Number(w.received_tli) >= timeline)
        return;
      if (Date.now() > deadline) {
        throw new RepointFailedError(
          `${replica.name} does not stream from ${newPrimary.name} on timeline ${timeline} within ${timeoutMs} ms (${seen})`,
        );
      }
      // The caller's question costs a round trip to the primary: at most every 500 ms.
      if (opts.stopWaiting && Date.now() >= nextAsk) {
        nextAsk = Date.now() + 500;
        const why = await opts.stopWaiting(Date.now() - t0).catch(() => null);
        if (why)
          throw new RepointFailedError(`${replica.name} not streaming from ${newPrimary.name} (${seen}): ${why}`);
      }
      await sleep(50);
    }
  }

  async timelineSwitchpoint(node: NodeEndpoint, timeline: number): Promise<string | null> {
    if (timeline <= 1) return null;
    const file = `pg_wal/${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
    return this.withClient(node, 5000, async (c) => {
      const [r] = await this.rows(c, 'SELECT pg_read_file($1) AS h', [file]);
      // Lines are "<parent tli>\t<switchpoint>\t<reason>"; the last one is where this timeline began.
      const lines = String(r?.h ?? '')
        .split('\n')
        .filter((l) => /^\d+\s/.test(l));
      return lines.length ? lines[lines.length - 1]!.split(/\s+/)[1]! : null;
    });
  }

  async checkpoint(node: NodeEndpoint): Promise<void> {
    await this.withClient(node, 30000, async (c) => {
      await c.query('SET statement_timeout = 30000');
      await c.query('CHECKPOINT');
    });
  }

  async setSyncStandbyNames(primary: NodeEndpoint, names: string): Promise<void> {
    await this.withClient(primary, 5000, async (c) => {
      const [r] = await this.rows(c, 'SELECT pg_is_in_recovery() AS rec');
      if (r?.rec)
        throw new UnexpectedNodeStateError(`${primary.name} is in recovery: synchronous_standby_names is a primary's`);
      await c.query(`ALTER SYSTEM SET synchronous_standby_names = ${sqlLiteral(names)}`);
      await c.query('SELECT pg_reload_conf()');
      // The reload is asynchronous: the postmaster signals the backends; a new session sees the value once applied.
    });
    const deadline = Date.now() + 5000;
    for (;;) {
      const v = await this.withClient(primary, 2000, async (c) =>
        String((await this.rows(c, "SELECT current_setting('synchronous_standby_names') AS v"))[0]?.v ?? ''),
      );
      if (v.trim() === names.trim()) return;
      if (Date.now() > deadline) {
        throw new UnexpectedNodeStateError(
          `${primary.name} still reports synchronous_standby_names '${v}' after the reload`,
        );
      }
      await sleep(100);
    }
  }

  async terminateSessions(node: NodeEndpoint): Promise<number> {
    return this.withClient(node, 5000, async (c) => {
      const [r] = await this.rows(
        c,
        // pg_signal_backend (the controller is no superuser) cannot end a superuser's session: the fence's host stop does.
        `SELECT count(pg_terminate_backend(a.pid))::int AS n FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid
         WHERE a.pid <> pg_backend_pid() AND a.backend_type = 'client backend' AND NOT r.rolsuper`,
      );
      return Number(r?.n ?? 0);
    });
  }
}

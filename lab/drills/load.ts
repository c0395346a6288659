import { Client, type ClientConfig } from 'pg';

/** One commit the client saw. */
export interface Ack {
  id: number;
  at: number;
}

/** What a load run saw. */
export interface LoadReport {
  attempted: number;
  /** Commits that returned success without the "cancelled wait for synchronous replication" warning. */
  acked: Ack[];
  /** Commits that returned success WITH that warning: committed locally only, never acknowledged (docs/postgres-notes.md). */
  unacknowledgedLocalCommits: number[];
  errors: number;
  /** Longest gap between two consecutive acknowledged commits (ms): the write pause. */
  maxGapMs: number;
  maxGapStart: number | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Per-host connect timeout of the multi-host client: `pgquorum connstr`'s default connect_timeout (2 s). */
const MULTI_HOST_CONNECT_TIMEOUT_MS = 2000;

/**
 * A steady write load through the writer endpoint, as an application would:
 * one connection, one INSERT per commit, reconnect on failure. It records every
 * acknowledged id so a drill can read them all back from the new primary.
 */
export class LoadGenerator {
  private stopped = false;
  private running: Promise<void> | undefined;
  private client: Client | undefined;
  private nextId = 1;
  readonly report: LoadReport = {
    attempted: 0,
    acked: [],
    unacknowledgedLocalCommits: [],
    errors: 0,
    maxGapMs: 0,
    maxGapStart: null,
  };
  private lastAckAt: number | null = null;

  /**
   * @param conn one endpoint (the writer record), or several hosts: then each connection is made as libpq does
   * for a multi-host string with `target_session_attrs=read-write` (what `pgquorum connstr` prints): hosts in
   * order, each within a 2 s connect timeout (connstr's default `connect_timeout`), the first that reports
   * `transaction_read_only = off`. node-postgres has no multi-host support, so the lab reproduces libpq's rule.
   */
  constructor(
    private readonly conn: ClientConfig | readonly ClientConfig[],
    private readonly opts: { table?: string; intervalMs?: number; statementTimeoutMs?: number } = {},
  ) {}

  get table(): string {
    return this.opts.table ?? 'pgq_load';
  }

  /** Creates the load table (through the same endpoint). */
  async prepare(): Promise<void> {
    const c = await this.open(3000);
    await c.query(
      `CREATE TABLE IF NOT EXISTS ${this.table} (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`,
    );
    const r = await c.query(`SELECT coalesce(max(id), 0)::bigint AS m FROM ${this.table}`);
    this.nextId = Number(r.rows[0].m) + 1;
    await c.end();
  }

  /** Starts writing in the background. */
  start(): void {
    this.running = this.loop();
  }

  /** Stops and resolves with the report. */
  async stop(): Promise<LoadReport> {
    this.stopped = true;
    await this.running;
    await this.client?.end().catch(() => undefined);
    return this.report;
  }

  /** First acknowledged commit at or after `t` (ms), if any. */
  firstAckAfter(t: number): Ack | undefined {
    return this.report.acked.find((a) => a.at >= t);
  }

  private connect(): Promise<Client> {
    return this.open(1000);
  }

  private async open(connectTimeoutMs: number): Promise<Client> {
    const one = async (cfg: ClientConfig, timeoutMs: number) => {
      const c = new Client({
        ...cfg,
        connectionTimeoutMillis: timeoutMs,
        statement_timeout: this.opts.statementTimeoutMs ?? 2000,
      });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    };
    if (!Array.isArray(this.conn)) return one(this.conn as ClientConfig, connectTimeoutMs);
    const tried: string[] = [];
    for (const cfg of this.conn as readonly ClientConfig[]) {
      let c: Client | undefined;
      try {
        c = await one(cfg, MULTI_HOST_CONNECT_TIMEOUT_MS);
        // A hung server accepts TCP and then never answers: bound the check as libpq's connect_timeout would.
        const r = await Promise.race([
          c.query('SHOW transaction_read_only'),
          sleep(MULTI_HOST_CONNECT_TIMEOUT_MS).then(() => {
            throw new Error('no answer');
          }),
        ]);
        if (r.rows[0]?.transaction_read_only === 'off') return c;
        tried.push(`${cfg.port}: read-only`);
      } catch (err) {
        tried.push(`${cfg.port}: ${(err as Error).message}`);
      }
      (c as unknown as { connection?: { stream?: { destroy(): void } } } | undefined)?.connection?.stream?.destroy();
      void c?.end().catch(() => undefined);
    }
    throw new Error(`no host accepts writes (${tried.join('; ')})`);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const id = this.nextId++;
      this.report.attempted++;
      let warned = false;
      try {
        this.client ??= await this.connect();
        const c = this.client;
        const onNotice = (n: { message?: string }) => {
          if (/canceling wait for synchronous replication|committed locally/i.test(n.message ?? '')) warned = true;
        };
        c.on('notice', onNotice);
        try {
          // The client-side deadline also covers a hung server (statement_timeout cannot fire on a stopped one).
          await Promise.race([
            c.query(`INSERT INTO ${this.table} (id) VALUES ($1)`, [id]),
            sleep(3000).then(() => {
              throw new Error('client deadline');
            }),
          ]);
        } finally {
          c.removeListener('notice', onNotice);
        }
        const at = Date.now();
        if (warned) {
          this.report.unacknowledgedLocalCommits.push(id);
        } else {
          this.report.acked.push({ id, at });
          if (this.lastAckAt !== null && at - this.lastAckAt > this.report.maxGapMs) {
            this.report.maxGapMs = at - this.lastAckAt;
            this.report.maxGapStart = this.lastAckAt;
          }
          this.lastAckAt = at;
        }
      } catch {
        this.report.errors++;
        const c = this.client;
        this.client = undefined;
        void c?.end().catch(() => undefined);
        await sleep(50);
      }
      if (this.opts.intervalMs) await sleep(this.opts.intervalMs);
    }
  }
}

/** Ids in `acked` that `conn` does not have: acknowledged writes the cluster lost. */
export async function lostAcknowledged(conn: ClientConfig, table: string, acked: readonly Ack[]): Promise<number[]> {
  const c = new Client({ ...conn, connectionTimeoutMillis: 3000 });
  await c.connect();
  try {
    const r = await c.query(`SELECT id FROM ${table} WHERE id = ANY($1::bigint[])`, [acked.map((a) => a.id)]);
    const have = new Set(r.rows.map((x: { id: string }) => Number(x.id)));
    return acked.map((a) => a.id).filter((id) => !have.has(id));
  } finally {
    await c.end();
  }
}

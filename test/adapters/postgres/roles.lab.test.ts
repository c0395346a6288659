import { Client, type ClientConfig } from 'pg';
import {
  LAB_CONTROLLER_PASSWORD,
  LAB_CONTROLLER_USER,
  LAB_REPL_PASSWORD,
  LAB_REPL_USER,
  LAB_REWIND_PASSWORD,
  LAB_REWIND_USER,
  Lab,
  labCaPem,
} from '../../../lab/world/index';
import { PgNodeAdapter, parsePgConfig, pgSsl } from '../../../lambdas/adapters/postgres/pg-node-adapter';
import { CONTROLLER_ALTER_SYSTEM_PARAMETERS } from '../../../lambdas/adapters/postgres/roles';
import type { NodeEndpoint } from '../../../lambdas/ports/postgres-port';

/**
 * Issue 15: each of the three roles can do its job with the grants roleSetupSql gives it (the lab's bootstrap runs
 * exactly those), and nothing more. pg_rewind's own run as the rewind role is the failover drill's rejoin.
 */
let lab: Lab;
const ep = (name: string): NodeEndpoint => ({ name, host: '127.0.0.1', port: lab.nodeConnection(name).port });
const as = (user: string, password: string, node = 'pg1'): ClientConfig => ({
  ...lab.nodeConnection(node),
  user,
  password,
});

async function withClient<T>(cfg: ClientConfig, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client(cfg);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

beforeAll(async () => {
  lab = await Lab.attach();
  await lab.reset();
}, 180000);

afterAll(async () => {
  await lab.reset();
}, 180000);

describe('the three roles: not superusers, each with its documented minimum', () => {
  it('none of them is a superuser, and none can create roles or databases or bypass row security', async () => {
    const rows = await withClient(
      as(LAB_CONTROLLER_USER, LAB_CONTROLLER_PASSWORD),
      async (c) =>
        (
          await c.query(
            `SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication FROM pg_roles
           WHERE rolname = ANY($1) ORDER BY rolname`,
            [[LAB_CONTROLLER_USER, LAB_REPL_USER, LAB_REWIND_USER]],
          )
        ).rows,
    );
    const flags = { rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolbypassrls: false };
    expect(rows).toEqual(
      [
        // REPLICATION for pg_create_physical_replication_slot on a new primary, the only reason it has it.
        { rolname: LAB_CONTROLLER_USER, ...flags, rolreplication: true },
        { rolname: LAB_REWIND_USER, ...flags, rolreplication: false },
        { rolname: LAB_REPL_USER, ...flags, rolreplication: true },
      ].sort((a, b) => a.rolname.localeCompare(b.rolname)),
    );
  });

  it('the controller runs what the steps run: CHECKPOINT, the timeline history, a slot, the settings it changes', async () => {
    // Over TLS, as the functions connect: the lab refuses the controller's role without it.
    const pg = new PgNodeAdapter(
      parsePgConfig({
        user: LAB_CONTROLLER_USER,
        password: LAB_CONTROLLER_PASSWORD,
        ssl: pgSsl('verify-full', labCaPem()),
      }),
    );
    expect(await pg.probe(ep('pg1'), { heartbeatId: 7, writer: 'roles-test' })).toMatchObject({
      ok: true,
      role: 'primary',
      heartbeatOk: true,
    });
    // pg_stat_wal_receiver's sender columns are hidden without pg_read_all_stats: the probe sees the upstream.
    expect((await pg.probe(ep('pg2'))).upstream).toMatch(/^127\.0\.0\.1:\d+$/);
    await pg.checkpoint(ep('pg1'));
    await pg.ensureSlot(ep('pg1'), 'roles_test');
    await pg.ensureSlot(ep('pg1'), 'roles_test');
    // Timeline 1 has no history file; a file that is not there is an error, a refused function would be too.
    await expect(pg.timelineSwitchpoint(ep('pg1'), 2)).rejects.toThrow(/could not open file/);
    await withClient(as(LAB_CONTROLLER_USER, LAB_CONTROLLER_PASSWORD), async (c) => {
      await c.query('SELECT pg_drop_replication_slot($1)', ['roles_test']);
      // RESET of a setting pg1's postgresql.auto.conf does not hold: the right is proven, nothing changes.
      for (const p of CONTROLLER_ALTER_SYSTEM_PARAMETERS) await c.query(`ALTER SYSTEM RESET ${p}`);
      // Not even readable to it (pg_read_all_settings): the controller writes primary_conninfo, never reads it back.
      await expect(c.query("SELECT current_setting('primary_conninfo')")).rejects.toThrow(/pg_read_all_settings/);
    });
  });

  it('the controller may not change any other setting, read files outside the data directory or create roles', async () => {
    await withClient(as(LAB_CONTROLLER_USER, LAB_CONTROLLER_PASSWORD), async (c) => {
      await expect(c.query("ALTER SYSTEM SET archive_command = 'true'")).rejects.toThrow(/permission denied/);
      await expect(c.query("ALTER SYSTEM SET shared_preload_libraries = ''")).rejects.toThrow(/permission denied/);
      await expect(c.query("SELECT pg_read_file('/etc/passwd')")).rejects.toThrow(/absolute path not allowed/);
      await expect(c.query("SELECT pg_read_binary_file('global/pg_control')")).rejects.toThrow(/permission denied/);
      await expect(c.query("SELECT pg_ls_dir('.')")).rejects.toThrow(/permission denied/);
      await expect(c.query('CREATE ROLE intruder')).rejects.toThrow(/permission denied/);
      await expect(c.query("COPY (SELECT 1) TO PROGRAM 'true'")).rejects.toThrow(/permission denied|must be superuser/);
    });
  });

  it('the replication role opens a replication connection, and can do nothing the controller does', async () => {
    const sys = await withClient(
      { ...as(LAB_REPL_USER, LAB_REPL_PASSWORD), replication: 'database' } as ClientConfig,
      async (c) => (await c.query('IDENTIFY_SYSTEM')).rows[0],
    );
    expect(Number(sys.timeline)).toBeGreaterThanOrEqual(1);
    await withClient(as(LAB_REPL_USER, LAB_REPL_PASSWORD, 'pg2'), async (c) => {
      await expect(c.query('SELECT pg_promote()')).rejects.toThrow(/permission denied/);
      await expect(c.query("ALTER SYSTEM SET primary_conninfo = ''")).rejects.toThrow(/permission denied/);
      await expect(c.query("SELECT pg_ls_dir('.')")).rejects.toThrow(/permission denied/);
    });
  });

  it("the rewind role reads the data directory through pg_rewind's four functions, and can do nothing else", async () => {
    await withClient(as(LAB_REWIND_USER, LAB_REWIND_PASSWORD), async (c) => {
      const r = (
        await c.query(
          `SELECT (SELECT count(*) FROM pg_ls_dir('global', true, false))::int AS files,
                  (pg_stat_file('global/pg_control', true)).size AS control_size,
                  length(pg_read_binary_file('PG_VERSION')) AS version_len,
                  length(pg_read_binary_file('global/pg_control', 0, 8, true)) AS chunk_len`,
        )
      ).rows[0];
      expect(r.files).toBeGreaterThan(0);
      expect(Number(r.control_size)).toBe(8192);
      expect(r.version_len).toBeGreaterThan(0);
      expect(r.chunk_len).toBe(8);
      await expect(c.query('SELECT pg_promote()')).rejects.toThrow(/permission denied/);
      await expect(c.query('CHECKPOINT')).rejects.toThrow(/must be superuser or have privileges of pg_checkpoint/);
      await expect(c.query("ALTER SYSTEM SET primary_conninfo = ''")).rejects.toThrow(/permission denied/);
      await expect(c.query("SELECT pg_read_file('/etc/passwd')")).rejects.toThrow(/permission denied/);
    });
  });
});

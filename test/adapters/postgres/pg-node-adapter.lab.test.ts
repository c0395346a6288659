import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import {
  LAB_CA_FILE,
  LAB_CONTROLLER_PASSWORD,
  LAB_CONTROLLER_USER,
  LAB_REPL_PASSWORD,
  LAB_REPL_USER,
  Lab,
  labCaPem,
} from '../../../lab/world/index';
import { nodeDataDir } from '../../../lab/world/paths';
import { NodeUnreachableError, ReplayPausedError } from '../../../lambdas/adapters/postgres/errors';
import { PgNodeAdapter, parsePgConfig, pgSsl } from '../../../lambdas/adapters/postgres/pg-node-adapter';
import { compareLsn, ValidationError } from '../../../lambdas/core';
import type { NodeEndpoint } from '../../../lambdas/ports/postgres-port';

let lab: Lab;
// The controller's own least-privileged role (not a superuser), as the functions connect: verify-full against the
// lab's CA (the lab admits the controller's role only over TLS). Every call below works with its grants alone.
const pg = new PgNodeAdapter(
  parsePgConfig({
    user: LAB_CONTROLLER_USER,
    password: LAB_CONTROLLER_PASSWORD,
    ssl: pgSsl('verify-full', labCaPem()),
  }),
);
const ep = (name: string): NodeEndpoint => ({ name, host: '127.0.0.1', port: lab.nodeConnection(name).port });

beforeAll(async () => {
  lab = await Lab.attach();
}, 60000);

describe('config', () => {
  it('names a missing field', () => {
    expect(() => parsePgConfig({ user: 'x' })).toThrow(ValidationError);
    expect(() => parsePgConfig({ user: 'x' })).toThrow(/password/);
  });
});

describe('probe of a healthy cluster', () => {
  it('reports the primary with its heartbeat and quorum standbys', async () => {
    const r = await pg.probe(ep('pg1'), { heartbeatId: 1, writer: 'az-a' });
    expect(r).toMatchObject({ ok: true, role: 'primary', heartbeatOk: true, syncStandbyMissing: false, timeline: 1 });
    expect(r.standbys?.map((s) => [s.name, s.syncState]).sort()).toEqual([
      ['pg2', 'quorum'],
      ['pg3', 'quorum'],
    ]);
    expect(r.latencyMs).toBeLessThan(1500);
  });

  it('reads the primary without its heartbeat write when asked (an observer: the lab status)', async () => {
    const r = await pg.probe(ep('pg1'), { heartbeatId: 77, writer: 'observer', heartbeat: false });
    expect(r).toMatchObject({ ok: true, role: 'primary', heartbeatOk: true, timeline: 1 });
    const c = new Client({ ...lab.directConnection('pg1'), connectionTimeoutMillis: 3000 });
    await c.connect();
    try {
      expect((await c.query('SELECT 1 FROM pgquorum_heartbeat WHERE id = 77')).rowCount).toBe(0);
    } finally {
      await c.end();
    }
  });

  it('reports replicas streaming', async () => {
    for (const n of ['pg2', 'pg3']) {
      const r = await pg.probe(ep(n));
      expect(r).toMatchObject({ ok: true, role: 'replica', streaming: true, timeline: 1 });
      expect(r.receiveLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(r.replayPaused).toBe(false);
    }
  });

  it('reports a replica whose WAL replay is paused (a switchover target that would never catch up)', async () => {
    const c = new Client({ ...lab.directConnection('pg3'), connectionTimeoutMillis: 3000 });
    await c.connect();
    try {
      await c.query('SELECT pg_wal_replay_pause()');
      expect(await pg.probe(ep('pg3'))).toMatchObject({ ok: true, role: 'replica', replayPaused: true });
    } finally {
      await c.query('SELECT pg_wal_replay_resume()');
      await c.end();
    }
    expect((await pg.probe(ep('pg3'))).replayPaused).toBe(false);
  });

  it('waitForReplay fails at once, typed and fatal, on a replica whose replay is paused short of the LSN', async () => {
    const c = new Client({ ...lab.directConnection('pg3'), connectionTimeoutMillis: 3000 });
    await c.connect();
    try {
      await c.query('SELECT pg_wal_replay_pause()');
      const err = await pg.waitForReplay(ep('pg3'), 'FF/0', 20000).catch((e: Error) => e);
      expect(err).toBeInstanceOf(ReplayPausedError);
      expect((err as Error).message).toMatch(
        /^pg3 has WAL replay paused at \S+, short of FF\/0: it will not catch up$/,
      );
    } finally {
      await c.query('SELECT pg_wal_replay_resume()');
      await c.end();
    }
  });
});

describe('synchronous standby loss and setSyncStandbyNames (onNoSyncStandby degrade)', () => {
  afterAll(async () => {
    await lab.reset();
  }, 120000);

  /** A synchronous commit on pg1, and whether it finished within `ms`. */
  async function commitWithin(ms: number): Promise<boolean> {
    const c = new Client(lab.nodeConnection('pg1'));
    await c.connect();
    c.on('error', () => undefined);
    try {
      return await Promise.race([
        // The DDL's commit waits for a standby too: everything inside the race.
        (async () => {
          await c.query('CREATE TABLE IF NOT EXISTS sync_probe (x int)');
          await c.query('INSERT INTO sync_probe VALUES (1)');
          return true;
        })(),
        new Promise<boolean>((r) => setTimeout(() => r(false), ms)),
      ]);
    } finally {
      // A commit waiting for a standby never reads the Terminate message: drop the socket instead of end().
      (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    }
  }

  it('sees the loss with both replicas down, empties and restores synchronous_standby_names', async () => {
    const healthy = await pg.probe(ep('pg1'));
    expect(healthy.syncStandbyNames).toMatch(/^ANY 1 \(pg1, pg2, pg3\)$/);
    await lab.pgStop('pg2', 'immediate');
    await lab.pgStop('pg3', 'immediate');
    const lost = await pg.probe(ep('pg1'), { heartbeatId: 1, writer: 'az-a' });
    // The heartbeat commits locally: a lost standby is reported as such, never as a dead primary.
    expect(lost).toMatchObject({ ok: true, role: 'primary', heartbeatOk: true, syncStandbyMissing: true });
    expect(lost.standbys).toEqual([]);
    expect(await commitWithin(1500)).toBe(false);

    await pg.setSyncStandbyNames(ep('pg1'), '');
    await pg.setSyncStandbyNames(ep('pg1'), ''); // idempotent
    const degraded = await pg.probe(ep('pg1'));
    expect(degraded).toMatchObject({ syncStandbyNames: '', syncStandbyMissing: false });
    expect(await commitWithin(5000)).toBe(true);

    await lab.pgStart('pg2');
    await pg.setSyncStandbyNames(ep('pg1'), healthy.syncStandbyNames!);
    const deadline = Date.now() + 20000;
    let back = await pg.probe(ep('pg1'));
    while (back.syncStandbyMissing && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      back = await pg.probe(ep('pg1'));
    }
    expect(back).toMatchObject({ syncStandbyNames: healthy.syncStandbyNames, syncStandbyMissing: false });
    expect(back.standbys?.map((s) => [s.name, s.syncState])).toEqual([['pg2', 'quorum']]);
  }, 90000);

  it('refuses to set it on a replica', async () => {
    await expect(pg.setSyncStandbyNames(ep('pg2'), '')).rejects.toThrow(/in recovery/);
  });
});

describe('failure detection never hangs', () => {
  afterAll(async () => {
    await lab.reset();
  }, 60000);

  it('fails a SIGSTOPped node within 1.5 s', async () => {
    await lab.stop('pg3');
    try {
      const t0 = Date.now();
      const r = await pg.probe(ep('pg3'));
      expect(r.ok).toBe(false);
      expect(Date.now() - t0).toBeLessThan(1500);
      expect(r.error).toMatch(/did not answer within|timeout/);
    } finally {
      await lab.cont('pg3');
    }
  });

  it('fails a killed node within 1.5 s', async () => {
    await lab.kill('pg3');
    const t0 = Date.now();
    const r = await pg.probe(ep('pg3'));
    expect(r.ok).toBe(false);
    expect(Date.now() - t0).toBeLessThan(1500);
  });
});

describe('terminateSessions', () => {
  it('ends client sessions on the node', async () => {
    // A client's role (not a superuser's session: pg_signal_backend cannot end those, the host stop does).
    const c = new Client({ ...lab.nodeConnection('pg2'), user: LAB_REPL_USER, password: LAB_REPL_PASSWORD });
    c.on('error', () => undefined);
    await c.connect();
    expect(await pg.terminateSessions(ep('pg2'))).toBeGreaterThanOrEqual(1);
    await expect(c.query('SELECT 1')).rejects.toThrow();
  });
});

describe('detachUpstream (fence by quorum)', () => {
  afterAll(async () => {
    await lab.reset();
  }, 60000);

  it('stops both replicas streaming from the primary, whose quorum standbys are then gone; a second detach is harmless', async () => {
    const wasPg2 = await pg.detachUpstream(ep('pg2'));
    const wasPg3 = await pg.detachUpstream(ep('pg3'));
    const primaryRepl = `127.0.0.1:${lab.state.ports.nodes[0]!.gatePorts.repl}`;
    expect([wasPg2, wasPg3]).toEqual([primaryRepl, primaryRepl]);
    for (const n of ['pg2', 'pg3']) expect(await pg.probe(ep(n))).toMatchObject({ role: 'replica', streaming: false });
    // ANY 1 with no standby: the old primary can acknowledge nothing.
    const p = await pg.probe(ep('pg1'));
    expect(p.standbys?.filter((s) => s.state === 'streaming')).toEqual([]);
    expect(await pg.detachUpstream(ep('pg2'))).toBeNull();
    await expect(pg.detachUpstream(ep('pg1'))).rejects.toThrow(/pg1 is not in recovery/);
  });
});

describe('promote and repoint', () => {
  afterAll(async () => {
    await lab.reset();
  }, 60000);

  it('promotes a replica that then accepts writes, and a second promote is harmless', async () => {
    await lab.kill('pg1');
    const first = await pg.promote(ep('pg2'));
    expect(first).toMatchObject({ alreadyPrimary: false, timeline: 2 });
    const c = new Client(lab.nodeConnection('pg2'));
    await c.connect();
    await c.query('SET synchronous_commit = local');
    await c.query('CREATE TABLE IF NOT EXISTS promoted_write (x int)');
    await c.query('INSERT INTO promoted_write VALUES (1)');
    await c.end();
    const second = await pg.promote(ep('pg2'));
    expect(second.alreadyPrimary).toBe(true);
  });

  it('repoints the other replica, which then streams and advances', async () => {
    const target = {
      host: '127.0.0.1',
      port: lab.state.ports.nodes[1]!.gatePorts.repl,
      user: LAB_REPL_USER,
      // The lab's clone wrote pg3's passfile next to its data directory, as the host scripts do on EC2.
      passfile: '../.pgpass-pgquorum',
      slotName: 'pg3',
      tlsKeywords: ['sslmode=verify-full', `sslrootcert=${LAB_CA_FILE}`],
    };
    await pg.repoint(ep('pg3'), ep('pg2'), target, { timeoutMs: 15000 });
    // Named, not carried: the replica's configuration (copied by every base backup and rewind) holds no password,
    // and the WAL stream travels over TLS, verified against the lab CA.
    const auto = fs.readFileSync(path.join(nodeDataDir('pg3'), 'postgresql.auto.conf'), 'utf8');
    expect(auto).toContain('passfile=../.pgpass-pgquorum');
    expect(auto).not.toContain(LAB_REPL_PASSWORD);
    expect(auto).not.toMatch(/password=/);
    expect(auto).toMatch(/primary_conninfo = '.*sslmode=verify-full sslrootcert=/);
    const before = (await pg.probe(ep('pg3'))).replayLsn!;
    const c = new Client(lab.nodeConnection('pg2'));
    await c.connect();
    await c.query('INSERT INTO promoted_write SELECT generate_series(1, 1000)');
    const [{ lsn }] = (await c.query('SELECT pg_current_wal_lsn()::text AS lsn')).rows;
    await c.end();
    const replayed = await pg.waitForReplay(ep('pg3'), lsn, 10000);
    expect(compareLsn(replayed, before)).toBe(1);
    const after = await pg.probe(ep('pg3'));
    expect(after).toMatchObject({ role: 'replica', streaming: true, timeline: 2 });
    // With pg3 back as a quorum standby, a synchronous commit on pg2 completes again.
    const p = await pg.probe(ep('pg2'));
    expect(p.syncStandbyMissing).toBe(false);
  });

  it('waitForReplay times out with a typed error', async () => {
    await expect(pg.waitForReplay(ep('pg3'), 'FF/0', 300)).rejects.toThrow(/did not replay past FF\/0/);
  });

  it('reports an unreachable node as a retriable NodeUnreachableError', async () => {
    await expect(pg.promote(ep('pg1'), { timeoutMs: 1000 })).rejects.toBeInstanceOf(NodeUnreachableError);
  });
});

describe('a password rotated under a running adapter (the functions cache the secret for a container lifetime)', () => {
  const role = 'pgq_rotating';
  const admin = async <T>(fn: (c: Client) => Promise<T>): Promise<T> => {
    const c = new Client({ ...lab.directConnection('pg1'), connectionTimeoutMillis: 3000 });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  const adapter = (password: string, refresh?: () => Promise<{ user: string; password: string }>) =>
    new PgNodeAdapter(
      parsePgConfig({ user: role, password, ssl: pgSsl('verify-full', labCaPem()), connectTimeoutMs: 2000 }),
      refresh ? { refreshCredentials: refresh, refreshEveryMs: 0 } : {},
    );

  beforeAll(() => admin((c) => c.query(`CREATE ROLE ${role} LOGIN PASSWORD 'before-rotation'`)));
  afterAll(() => admin((c) => c.query(`DROP ROLE IF EXISTS ${role}`)));

  it('a refusal is reported as such (the node answered), and a fresh read of the secret logs in again', async () => {
    let secret = 'before-rotation';
    let reads = 0;
    const refreshing = adapter(secret, async () => {
      reads++;
      return { user: role, password: secret };
    });
    const fixed = adapter(secret);
    expect(await refreshing.probe(ep('pg1'), { heartbeat: false })).toMatchObject({ ok: true, role: 'primary' });
    expect(reads).toBe(0);

    // The rotation sets the new password, then makes it the secret's current version.
    await admin((c) => c.query(`ALTER ROLE ${role} PASSWORD 'after-rotation'`));
    const stale = await refreshing.probe(ep('pg1'), { heartbeat: false });
    expect(stale).toMatchObject({ ok: false, authFailed: true });
    expect(stale.error).toMatch(/password authentication failed for user "pgq_rotating"/);
    expect(reads).toBe(1);
    secret = 'after-rotation';

    expect(await refreshing.probe(ep('pg1'), { heartbeat: false })).toMatchObject({ ok: true, role: 'primary' });
    expect(reads).toBe(2);
    // Without a way to read the secret again, the container stays refused (the probe says why, not "down").
    expect(await fixed.probe(ep('pg1'), { heartbeat: false })).toMatchObject({ ok: false, authFailed: true });
    // A step's call is refused the same way: typed, so the steps treat the node as unreachable.
    await expect(fixed.checkpoint(ep('pg1'))).rejects.toBeInstanceOf(NodeUnreachableError);
  });

  it('three nodes refused in one round read the secret once, and all log in with what it returned', async () => {
    // The role's password is 'after-rotation' since the test above; this container still holds the old one.
    let reads = 0;
    const container = adapter('before-rotation', async () => {
      reads++;
      await new Promise((r) => setTimeout(r, 100));
      return { user: role, password: 'after-rotation' };
    });
    const round = await Promise.all(['pg1', 'pg2', 'pg3'].map((n) => container.probe(ep(n), { heartbeat: false })));
    expect(round.map((r) => [r.node, r.ok])).toEqual([
      ['pg1', true],
      ['pg2', true],
      ['pg3', true],
    ]);
    expect(reads).toBe(1);
  });
});

import { execFile } from 'node:child_process';
import path from 'node:path';
import { DescribeSecurityGroupsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ChangeResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { Client, type ClientConfig } from 'pg';
import { LAB_WRITER_RECORD, Lab } from '../../lab/world/index';

async function connect(cfg: ClientConfig, timeoutMs = 2000): Promise<Client> {
  const c = new Client({ ...cfg, connectionTimeoutMillis: timeoutMs });
  // A severed or cut session reports asynchronously; the test checks the failed query instead.
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

async function one<T = unknown>(cfg: ClientConfig, sql: string): Promise<T> {
  const c = await connect(cfg);
  try {
    return (await c.query(sql)).rows[0] as T;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Tries a fresh connection; resolves to 'connected' or the error message. */
async function tryConnect(cfg: ClientConfig, timeoutMs = 2000): Promise<string> {
  try {
    const c = await connect(cfg, timeoutMs);
    await c.end().catch(() => undefined);
    return 'connected';
  } catch (err) {
    return (err as Error).message || 'refused';
  }
}

/** Polls fn until ok(value) or the deadline; errors count as "not yet" (replication lag, restarts). */
async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const root = path.resolve(__dirname, '../..');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'lab', 'cli.ts'), ...args],
      { cwd: root, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let lab: Lab;

beforeAll(async () => {
  lab = await Lab.attach();
  // Whatever an earlier file left behind, start from the baseline.
  await lab.reset();
}, 60000);

describe('baseline cluster', () => {
  it('replicates a write through the writer endpoint to both replicas', async () => {
    const id = `w-${Date.now()}`;
    const c = await connect(lab.endpointConnection('writer'));
    await c.query('CREATE TABLE IF NOT EXISTS lab_probe (id text PRIMARY KEY)');
    await c.query('INSERT INTO lab_probe VALUES ($1)', [id]);
    expect((await c.query("SELECT current_setting('cluster_name') AS n")).rows[0].n).toBe('pg1');
    await c.end();
    for (const replica of ['pg2', 'pg3']) {
      const row = await eventually(
        () =>
          one<{ n: number }>(
            lab.nodeConnection(replica),
            `SELECT count(*)::int AS n FROM lab_probe WHERE id = '${id}'`,
          ),
        (r) => r.n === 1,
      );
      expect(row).toEqual({ n: 1 });
    }
  });

  it('reports quorum sync state for both replicas streaming through the repl gate', async () => {
    const st = await lab.status();
    expect(st.mode).toBe('sync');
    expect(st.nodes.map((n) => [n.name, n.role, n.syncState, n.upstream, n.gateOpen])).toEqual([
      ['pg1', 'primary', null, null, true],
      ['pg2', 'replica', 'quorum', 'pg1', true],
      ['pg3', 'replica', 'quorum', 'pg1', true],
    ]);
    expect(st.writer).toEqual(['pg1']);
    expect(st.reader).toEqual(['pg2', 'pg3']);
    expect(st.emulator.healthy).toBe(true);
    // Both streams are connections through pg1's gate.
    expect((await lab.gates()).pg1!.perPath.repl).toBe(2);
    const settings = await one<{ names: string; commit: string }>(
      lab.nodeConnection('pg1'),
      "SELECT current_setting('synchronous_standby_names') AS names, current_setting('synchronous_commit') AS commit",
    );
    expect(settings).toEqual({ names: 'ANY 1 (pg1, pg2, pg3)', commit: 'on' });
  });

  it('is idempotent: up() attaches to the running lab', async () => {
    const again = await Lab.up();
    expect(again.state.supervisorPid).toBe(lab.state.supervisorPid);
  });

  it('reset() of a lab at baseline rebuilds nothing', async () => {
    expect(await lab.reset()).toBe('no rebuild needed');
  });
});

describe('gates follow the security group like EC2', () => {
  afterEach(async () => {
    await lab.setSecurityGroup('pg2', true);
  }, 60000);

  it('refuses new connections within 1 s of a revoke, keeps established ones until severed', async () => {
    const held = await connect(lab.nodeConnection('pg2'));
    await lab.setSecurityGroup('pg2', false);
    const t0 = Date.now();
    const ec2 = new EC2Client({});
    const sg = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [lab.securityGroupId('pg2')] }));
    expect(sg.SecurityGroups?.[0]?.IpPermissions ?? []).toEqual([]);
    const refused = await eventually(
      () => tryConnect(lab.nodeConnection('pg2'), 300),
      (m) => m !== 'connected',
      1500,
    );
    expect(refused).not.toBe('connected');
    expect(Date.now() - t0).toBeLessThan(1500);
    // Connection tracking: the established session still works...
    expect((await held.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    // ...until the fence severs it.
    expect(await lab.sever('pg2')).toBeGreaterThanOrEqual(1);
    await expect(held.query('SELECT 1')).rejects.toThrow();
    await lab.setSecurityGroup('pg2', true);
    expect(
      await eventually(
        () => tryConnect(lab.nodeConnection('pg2')),
        (m) => m === 'connected',
        2000,
      ),
    ).toBe('connected');
  });

  it('fails static: with the emulator frozen the gate keeps its last known state and says so', async () => {
    await lab.emulatorPause(true);
    try {
      const gates = await eventually(
        () => lab.gates(),
        (g) => g.pg2!.sgStale,
        4000,
      );
      expect(gates?.pg2).toMatchObject({ sgOpen: true, sgStale: true });
      expect(await tryConnect(lab.nodeConnection('pg2'))).toBe('connected');
    } finally {
      await lab.emulatorPause(false);
    }
    const gates = await eventually(
      () => lab.gates(),
      (g) => !g.pg2!.sgStale,
      4000,
    );
    expect(gates?.pg2?.sgStale).toBe(false);
  });
});

describe('writer endpoint follows Route 53', () => {
  afterAll(async () => {
    await lab.reset();
  }, 60000);

  it('sends new connections to the node the record names after the TTL', async () => {
    const before = await one<{ n: string }>(
      lab.endpointConnection('writer'),
      "SELECT current_setting('cluster_name') AS n",
    );
    expect(before.n).toBe('pg1');
    const r53 = new Route53Client({});
    await r53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: lab.hostedZoneId,
        ChangeBatch: {
          Changes: [
            {
              Action: 'UPSERT',
              ResourceRecordSet: {
                Name: LAB_WRITER_RECORD,
                Type: 'A',
                TTL: 1,
                ResourceRecords: [{ Value: lab.state.ports.nodes[1]!.privateIp }],
              },
            },
          ],
        },
      }),
    );
    const after = await eventually(
      () => one<{ n: string }>(lab.endpointConnection('writer'), "SELECT current_setting('cluster_name') AS n"),
      (r) => r.n === 'pg2',
      4000,
    );
    expect(after).toEqual({ n: 'pg2' });
    expect((await lab.status()).writer).toEqual(['pg2']);
  });
});

describe('node process control', () => {
  afterAll(async () => {
    await lab.reset();
  }, 60000);

  it('stop freezes the node (new and open sessions) and cont brings it back', async () => {
    const held = await connect(lab.nodeConnection('pg3'));
    await lab.stop('pg3');
    try {
      expect(await tryConnect(lab.nodeConnection('pg3'), 800)).not.toBe('connected');
      const q = held.query({ text: 'SELECT 1 AS ok', query_timeout: 800 } as never);
      await expect(q).rejects.toThrow(/timeout/i);
      expect((await lab.status()).nodes.find((n) => n.name === 'pg3')!.role).toBe('stopped');
    } finally {
      await lab.cont('pg3');
    }
    const row = await eventually(
      () => one<{ ok: number }>(lab.nodeConnection('pg3'), 'SELECT 1 AS ok'),
      (r) => r.ok === 1,
    );
    expect(row).toEqual({ ok: 1 });
    await held.end().catch(() => undefined);
  });

  it('kill makes a node stop answering; pgStart brings it back', async () => {
    const pid = lab.state.pids.pg3;
    await lab.kill('pg3');
    expect(() => process.kill(pid!, 0)).toThrow();
    expect(await tryConnect(lab.nodeConnection('pg3'))).not.toBe('connected');
    expect((await lab.status()).nodes.find((n) => n.name === 'pg3')).toMatchObject({ role: 'down', pid: null });
    await lab.pgStart('pg3');
    expect(await one<{ rec: boolean }>(lab.nodeConnection('pg3'), 'SELECT pg_is_in_recovery() AS rec')).toEqual({
      rec: true,
    });
  });

  it('reset() after a promotion rebuilds the cluster to the baseline', async () => {
    await one(lab.nodeConnection('pg3'), 'SELECT pg_promote(true, 30)');
    expect(await lab.reset()).toMatch(/re-cloned pg3|full rebuild/);
    const st = await lab.status();
    expect(st.nodes.map((n) => [n.name, n.role, n.syncState])).toEqual([
      ['pg1', 'primary', null],
      ['pg2', 'replica', 'quorum'],
      ['pg3', 'replica', 'quorum'],
    ]);
  });
});

describe('partitions per gate path', () => {
  afterAll(async () => {
    await lab.reset();
  }, 60000);

  it('cut refuses one path and leaves the others; heal restores it', async () => {
    const held = await connect(lab.nodeConnection('pg2', 'az-b'));
    await lab.cut('pg2', 'az-b');
    expect(await tryConnect(lab.nodeConnection('pg2', 'az-b'))).not.toBe('connected');
    await expect(held.query('SELECT 1')).rejects.toThrow();
    expect(await tryConnect(lab.nodeConnection('pg2', 'az-a'))).toBe('connected');
    expect((await lab.status()).nodes.find((n) => n.name === 'pg2')!.cutPaths).toEqual(['az-b']);
    await lab.heal('pg2', 'az-b');
    expect(await tryConnect(lab.nodeConnection('pg2', 'az-b'))).toBe('connected');
  });

  it("cutting the primary's repl path stops both replicas' streams; heal restores them", async () => {
    await lab.cut('pg1', 'repl');
    const gone = await eventually(
      () => one<{ n: number }>(lab.nodeConnection('pg1'), 'SELECT count(*)::int AS n FROM pg_stat_replication'),
      (r) => r.n === 0,
      3000,
    );
    expect(gone).toEqual({ n: 0 });
    await lab.heal('pg1', 'repl');
    const back = await eventually(
      () =>
        one<{ n: number }>(
          lab.nodeConnection('pg1'),
          "SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming'",
        ),
      (r) => r.n === 2,
      6000,
    );
    expect(back).toEqual({ n: 2 });
  });

  it('blackhole cut hangs new and open sessions without closing them; heal lets them through', async () => {
    const held = await connect(lab.nodeConnection('pg2', 'az-c'));
    await lab.cut('pg2', 'az-c', 'blackhole');
    expect(await tryConnect(lab.nodeConnection('pg2', 'az-c'), 500)).toMatch(/timeout/i);
    await expect(held.query({ text: 'SELECT 1', query_timeout: 500 } as never)).rejects.toThrow(/timeout/i);
    await lab.heal('pg2', 'az-c');
    expect(await tryConnect(lab.nodeConnection('pg2', 'az-c'))).toBe('connected');
    await held.end().catch(() => undefined);
  });
});

describe('CLI', () => {
  it('status --json prints the same status as JSON', async () => {
    const r = await cli('status', '--json');
    expect(r.code).toBe(0);
    const st = JSON.parse(r.stdout);
    expect(st.nodes.map((n: { name: string; role: string }) => [n.name, n.role])).toEqual([
      ['pg1', 'primary'],
      ['pg2', 'replica'],
      ['pg3', 'replica'],
    ]);
  });

  it('rejects an unknown node with one line and exit code 2', async () => {
    const r = await cli('kill', 'pg9');
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(["lab: unknown node 'pg9' (expected one of pg1, pg2, pg3)"]);
  });
});

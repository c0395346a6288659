import { ChangeResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { Client, type ClientConfig } from 'pg';
import { LAB_WRITER_RECORD, Lab } from '../../lab/index';

async function connect(cfg: ClientConfig): Promise<Client> {
  const c = new Client({ ...cfg, connectionTimeoutMillis: 2000 });
  await c.connect();
  return c;
}

async function one<T = unknown>(cfg: ClientConfig, sql: string): Promise<T> {
  const c = await connect(cfg);
  try {
    return (await c.query(sql)).rows[0] as T;
  } finally {
    await c.end();
  }
}

/** Tries a fresh connection; resolves to the error message or 'connected'. */
async function tryConnect(cfg: ClientConfig): Promise<string> {
  try {
    const c = await connect(cfg);
    await c.end();
    return 'connected';
  } catch (err) {
    return (err as Error).message || 'refused';
  }
}

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

let lab: Lab;

beforeAll(async () => {
  lab = await Lab.attach();
});

describe('baseline cluster', () => {
  it('replicates a write through the writer endpoint to both replicas', async () => {
    const id = `w-${Date.now()}`;
    const c = await connect(lab.endpointConnection('writer'));
    await c.query('CREATE TABLE IF NOT EXISTS lab_probe (id text PRIMARY KEY)');
    await c.query('INSERT INTO lab_probe VALUES ($1)', [id]);
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
      expect(row.n).toBe(1);
    }
  });

  it('reports quorum sync state for both replicas in sync mode', async () => {
    const st = await lab.status();
    expect(st.mode).toBe('sync');
    expect(st.nodes.map((n) => [n.name, n.role, n.syncState])).toEqual([
      ['pg1', 'primary', null],
      ['pg2', 'replica', 'quorum'],
      ['pg3', 'replica', 'quorum'],
    ]);
    expect(st.writer).toEqual(['pg1']);
  });
});

describe('gates follow the security group like EC2', () => {
  afterEach(async () => {
    await lab.setSecurityGroup('pg2', true);
  });

  it('refuses new connections within 1 s of a revoke, keeps established ones until severed', async () => {
    const held = await connect(lab.nodeConnection('pg2'));
    held.on('error', () => undefined);
    const t0 = Date.now();
    await lab.setSecurityGroup('pg2', false);
    const refused = await eventually(
      () => tryConnect(lab.nodeConnection('pg2')),
      (m) => m !== 'connected',
      1000,
    );
    expect(refused).not.toBe('connected');
    expect(Date.now() - t0).toBeLessThan(1000 + 2000 /* the last failed attempt's own connect time */);
    // Connection tracking: the established session still works.
    expect((await held.query('SELECT 1 AS one')).rows[0].one).toBe(1);
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
});

describe('writer endpoint follows Route 53', () => {
  afterAll(async () => {
    await lab.reset();
  });

  it('sends new connections to the node the record names after the TTL', async () => {
    const r53 = new Route53Client({});
    await r53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: lab.ids.hostedZoneId,
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
    const port = await eventually(
      () => one<{ port: number }>(lab.endpointConnection('writer'), "SELECT current_setting('port')::int AS port"),
      (r) => r.port === lab.state.ports.nodes[1]!.pgPort,
      4000,
    );
    expect(port.port).toBe(lab.state.ports.nodes[1]!.pgPort);
  });
});

describe('node process control', () => {
  afterAll(async () => {
    await lab.reset();
  });

  it('stop makes a node hang and cont brings it back', async () => {
    await lab.stop('pg3');
    const c = new Client({ ...lab.nodeConnection('pg3'), connectionTimeoutMillis: 800 });
    await expect(c.connect()).rejects.toThrow();
    await lab.cont('pg3');
    const row = await eventually(
      () => one<{ ok: number }>(lab.nodeConnection('pg3'), 'SELECT 1 AS ok').catch(() => ({ ok: 0 })),
      (r) => r.ok === 1,
    );
    expect(row.ok).toBe(1);
  });

  it('kill makes a node stop answering', async () => {
    await lab.kill('pg3');
    expect(await tryConnect(lab.nodeConnection('pg3'))).not.toBe('connected');
    const st = await lab.status();
    expect(st.nodes.find((n) => n.name === 'pg3')!.role).toBe('down');
  });

  it('cut refuses one path and leaves the others; heal restores it', async () => {
    await lab.cut('pg2', 'az-b');
    expect(await tryConnect(lab.nodeConnection('pg2', 'az-b'))).not.toBe('connected');
    expect(await tryConnect(lab.nodeConnection('pg2', 'az-a'))).toBe('connected');
    await lab.heal('pg2', 'az-b');
    expect(await tryConnect(lab.nodeConnection('pg2', 'az-b'))).toBe('connected');
  });
});

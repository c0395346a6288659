import { ChangeResourceRecordSetsCommand, GetChangeCommand, Route53Client } from '@aws-sdk/client-route-53';
import { Client } from 'pg';
import { LAB_WRITER_RECORD, Lab } from '../../lab/world/index';

/**
 * The `aws` cloud profile itself, on the lab (the suite runs it with short
 * delays: test/lab-global-setup.ts). Every check is against the deadline the
 * lab drew for a change (which the lab reports), never against a wall-clock
 * budget: a check that needs "before the deadline" first asserts that it did
 * run before it.
 */
let lab: Lab;
const r53 = () => new Route53Client({});

/** The node a NEW connection through the writer endpoint reaches, and when the connection was up. */
async function behindWriter(): Promise<{ node: string; at: number }> {
  const c = new Client({ ...lab.endpointConnection('writer'), connectionTimeoutMillis: 3000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    const at = Date.now();
    const r = await c.query("SELECT current_setting('cluster_name') AS n");
    return { node: r.rows[0].n as string, at };
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** UPSERTs the writer record through the lab's AWS endpoint (as FlipDns does); returns the change id. */
async function flipWriter(node: string, ttlSec: number): Promise<string> {
  const ip = lab.state.ports.nodes.find((n) => n.name === node)!.privateIp;
  const res = await r53().send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: lab.hostedZoneId,
      ChangeBatch: {
        Changes: [
          {
            Action: 'UPSERT',
            ResourceRecordSet: { Name: LAB_WRITER_RECORD, Type: 'A', TTL: ttlSec, ResourceRecords: [{ Value: ip }] },
          },
        ],
      },
    }),
  );
  expect(res.ChangeInfo?.Status).toBe('PENDING');
  return res.ChangeInfo!.Id!;
}

async function visibleAt(changeId: string): Promise<{ submittedAt: number; visibleAt: number }> {
  const c = (await lab.awsProxy()).route53Changes.find((x) => changeId.endsWith(x.id));
  if (!c) throw new Error(`the lab's AWS endpoint did not track change ${changeId}`);
  return c;
}

async function statusOf(changeId: string): Promise<{ status: string; answeredBy: number }> {
  const r = await r53().send(new GetChangeCommand({ Id: changeId }));
  return { status: r.ChangeInfo!.Status!, answeredBy: Date.now() };
}

const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

beforeAll(async () => {
  lab = await Lab.attach();
  await lab.reset();
  if (lab.cloud.name !== 'aws' || lab.cloud.route53Propagation.minMs <= 0) {
    throw new Error(
      `these tests need a lab with the aws profile (it runs ${lab.cloud.name}): see test/lab-global-setup.ts`,
    );
  }
}, 60000);

afterAll(async () => {
  await lab.reset();
}, 60000);

describe('Route 53 under the aws profile', () => {
  it('a change reports PENDING until its drawn propagation delay has passed, then INSYNC', async () => {
    const id = await flipWriter('pg1', 1);
    const c = await visibleAt(id);
    const range = lab.cloud.route53Propagation;
    expect(c.visibleAt - c.submittedAt).toBeGreaterThanOrEqual(range.minMs);
    expect(c.visibleAt - c.submittedAt).toBeLessThanOrEqual(range.maxMs);
    const early = await statusOf(id);
    expect(early.answeredBy).toBeLessThan(c.visibleAt);
    expect(early.status).toBe('PENDING');
    await sleepUntil(c.visibleAt + 20);
    expect((await statusOf(id)).status).toBe('INSYNC');
  });

  it('the writer endpoint follows a flipped record only after propagation, then after the cached TTL', async () => {
    // A baseline record with a long TTL, through the endpoint and propagated, so the cache outlives the flip.
    const ttlSec = 4;
    const base = await visibleAt(await flipWriter('pg1', ttlSec));
    await sleepUntil(base.visibleAt + 20);

    const id = await flipWriter('pg2', 1);
    const flip = await visibleAt(id);
    // Before propagation the resolver still answers the old record, even with nothing cached.
    await lab.flushDns();
    const before = await behindWriter();
    expect(before.at).toBeLessThan(flip.visibleAt);
    expect(before.node).toBe('pg1');

    // Cache the old answer just before the change lands: it is served for its TTL after propagation.
    await sleepUntil(flip.visibleAt - 300);
    await lab.flushDns();
    const cachedFrom = Date.now();
    const lastOld = await behindWriter();
    expect(lastOld.at).toBeLessThan(flip.visibleAt);
    expect(lastOld.node).toBe('pg1');
    await sleepUntil(flip.visibleAt + 50);
    expect((await statusOf(id)).status).toBe('INSYNC');
    const stillCached = await behindWriter();
    expect(stillCached.at).toBeLessThan(cachedFrom + ttlSec * 1000);
    expect(stillCached.node).toBe('pg1');

    // Once the cached answer expires, new connections go to the new record.
    await sleepUntil(lastOld.at + ttlSec * 1000 + 50);
    expect((await behindWriter()).node).toBe('pg2');
  }, 30000);

  it('reset makes the baseline visible at once and forgets tracked changes', async () => {
    await flipWriter('pg3', 1);
    await lab.reset();
    expect((await lab.awsProxy()).route53Changes).toEqual([]);
    expect((await behindWriter()).node).toBe('pg1');
  });
});

describe('slowed emulator', () => {
  it('adds the configured delay to every call through the AWS endpoint, and reset clears it', async () => {
    await lab.emulatorSlow(400);
    expect((await lab.awsProxy()).slowMs).toBe(400);
    const t0 = Date.now();
    await r53()
      .send(new GetChangeCommand({ Id: 'C-none' }))
      .catch(() => undefined);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    await lab.reset();
    expect((await lab.awsProxy()).slowMs).toBe(0);
  });
});

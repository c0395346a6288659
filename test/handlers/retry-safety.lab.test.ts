/**
 * The real task handlers, called with crafted input against the emulator's
 * DynamoDB (issue 14, findings 1-3 and 8): a step whose caller is not the
 * holder, or whose input disagrees with the run's record, refuses with
 * nothing changed (every item of the table compared before and after); a
 * step retried after its side effect succeeds with the same result.
 */
import { PutItemCommand, ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { createClusterTable } from '../../lab/world/seed';
import { makeClients } from '../../lambdas/adapters/aws/clients';
import { type DynamoStore, EventCommittedError } from '../../lambdas/adapters/aws/dynamo-store';
import { initialLease } from '../../lambdas/core/lease';
import type { Lease, RunRecord } from '../../lambdas/core/types';
import { handler as abort } from '../../lambdas/handlers/abort';
import { handler as acquireLease } from '../../lambdas/handlers/acquire-lease';
import { handler as commit } from '../../lambdas/handlers/commit';
import { handler as confirmQuorum } from '../../lambdas/handlers/confirm-quorum';
import { buildDeps, type Deps } from '../../lambdas/handlers/deps';
import { handler as fence } from '../../lambdas/handlers/fence';
import { handler as promote } from '../../lambdas/handlers/promote';
import { handler as rejoin } from '../../lambdas/handlers/rejoin-old-primary';
import { handler as restartOld } from '../../lambdas/handlers/restart-old-as-replica';
import type { RunState } from '../../lambdas/handlers/run-state';
import { handler as selectCandidate } from '../../lambdas/handlers/select-candidate';
import { handler as validateInput } from '../../lambdas/handlers/validate-input';
import type { RegisteredNode } from '../../lambdas/ports/store-port';

const aws = makeClients();
const table = `pgq-retry-${Date.now().toString(36)}`;
const CLUSTER = 'rs';
let d: Deps;
let store: DynamoStore;
const withDeps = async () => d;

const node = (name: string, role: 'primary' | 'replica'): RegisteredNode => ({
  name,
  instanceId: `i-${name}`,
  az: `az-${name}`,
  privateIp: `10.9.0.${name.slice(-1)}`,
  host: '127.0.0.1',
  port: 1,
  securityGroupId: `sg-${name}`,
  role,
  status: 'healthy',
  noFailover: false,
});

/** Every item of the table, as stored: the "nothing changed" comparison. */
async function snapshot(): Promise<Record<string, unknown>[]> {
  const r = await aws.ddb.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
  return (r.Items ?? []).map((i) => unmarshall(i)).sort((a, b) => String(a.sk).localeCompare(String(b.sk)));
}

async function seed(lease: Lease, event?: { epoch: number; outcome?: string }): Promise<void> {
  const items = [
    { pk: `CLUSTER#${CLUSTER}`, sk: 'LEASE', ...lease },
    ...['pg1', 'pg2', 'pg3'].map((n) => ({
      pk: `CLUSTER#${CLUSTER}`,
      sk: `NODE#${n}`,
      ...node(n, n === lease.primary ? 'primary' : 'replica'),
    })),
    ...(event
      ? [
          {
            pk: `CLUSTER#${CLUSTER}`,
            sk: `EVENT#${String(event.epoch).padStart(10, '0')}`,
            epoch: event.epoch,
            kind: 'failover',
            startedAt: 1,
            outcome: event.outcome ?? 'running',
            oldPrimary: 'pg1',
            reason: 'seeded',
            timeline: [],
          },
        ]
      : []),
  ];
  for (const Item of items) {
    await aws.ddb.send(new PutItemCommand({ TableName: table, Item: marshall(Item, { removeUndefinedValues: true }) }));
  }
}

const base = (over: Partial<Lease> = {}): Lease => ({ ...initialLease('pg1', 1000), ...over });
const record = (over: Partial<RunRecord> = {}): RunRecord => ({
  holder: 'rs-failover-e2',
  mode: 'failover',
  oldPrimary: 'pg1',
  ...over,
});
/** Epoch 2 in flight, held by rs-failover-e2 (its run record as given). */
const inFlight = (run: Partial<RunRecord> = {}, over: Partial<Lease> = {}): Lease =>
  base({ epoch: 2, state: 'failing-over', holder: 'rs-failover-e2', resumeState: 'steady', run: record(run), ...over });
/** Epoch 2 held by rs-failover-e2, pg2 chosen, pg1's fence verified, pg2 promoted. */
const promoted = (): Lease =>
  inFlight({ candidate: 'pg2', fenceVerified: true, promotedLsn: '0/5000000' }, { leaseUntil: Date.now() + 600000 });
const input = { mode: 'failover' as const, cluster: CLUSTER, reason: 'test' };
const runState = (over: Partial<RunState> = {}): RunState => ({
  input,
  epoch: 2,
  oldPrimary: 'pg1',
  candidate: 'pg2',
  startedAt: 1000,
  promotedLsn: '0/5000000',
  oldPrimaryLastSeenLsn: '0/5000000',
  replicas: ['pg3'],
  ...over,
});

beforeAll(async () => {
  await createClusterTable(aws.ddb, table);
  d = await buildDeps(
    {
      ...process.env,
      PGQ_CLUSTER: CLUSTER,
      PGQ_TABLE: table,
      PGQ_ZONE_ID: 'Z-unused',
      PGQ_WRITER_RECORD: 'writer.rs.test',
      PGQ_READER_RECORD: 'reader.rs.test',
      PGQ_DB_USER: 'nobody',
      PGQ_DB_PASSWORD: 'unused',
      PGQ_METRICS_SINK: 'api',
    },
    aws,
  );
  store = d.store as DynamoStore;
}, 60000);

describe('finding 1: Commit and ConfirmQuorum are idempotent under retry', () => {
  it('a Commit retried after its conditional write succeeds with the same result, and Abort then changes nothing', async () => {
    await seed(promoted(), { epoch: 2 });
    const first = await commit.withDeps(withDeps)({ state: runState(), executionName: 'rs-failover-e2' });
    const after = await snapshot();
    const lease = await store.getLease();
    expect(lease).toMatchObject({
      state: 'steady',
      primary: 'pg2',
      run: { outcome: 'committed', holder: 'rs-failover-e2' },
    });
    // The Lambda "failed" after the write: Step Functions retries the same input.
    const second = await commit.withDeps(withDeps)({ state: runState(), executionName: 'rs-failover-e2' });
    expect(second).toEqual(first);
    const again = await snapshot();
    expect(again.filter((i) => i.sk !== 'EVENT#0000000002')).toEqual(after.filter((i) => i.sk !== 'EVENT#0000000002'));
    expect(await store.getEvent(2)).toMatchObject({ outcome: 'committed', newPrimary: 'pg2' });
    expect((await store.listNodes()).map((n) => `${n.name}:${n.role}:${n.status}`)).toEqual([
      'pg1:replica:fenced',
      'pg2:primary:healthy',
      'pg3:replica:healthy',
    ]);
    // Even if something routed the run to Abort now, the committed run stands.
    const committed = await snapshot();
    await abort.withDeps(withDeps)({
      state: { ...runState(), error: { Error: 'Pgq.Retriable', Cause: 'timeout' } },
      executionName: 'rs-failover-e2',
    });
    expect(await snapshot()).toEqual(committed);
  });

  it('a ConfirmQuorum retried after it released the lease ends NoFailover again, changing nothing', async () => {
    await seed(inFlight(), { epoch: 2 });
    const state = { input, epoch: 2, oldPrimary: 'pg1' };
    const first = await confirmQuorum.withDeps(withDeps)({ state, executionName: 'rs-failover-e2' });
    expect(first).toMatchObject({ quorumConfirmed: false });
    expect(await store.getLease()).toMatchObject({ state: 'steady', epoch: 2, run: { outcome: 'released' } });
    const after = await snapshot();
    const second = await confirmQuorum.withDeps(withDeps)({ state, executionName: 'rs-failover-e2' });
    expect(second).toMatchObject({ quorumConfirmed: false });
    expect(await snapshot()).toEqual(after);
  });
});

describe('finding 2: a step acts only for its own run', () => {
  const refusals: [string, () => Promise<unknown>, RegExp][] = [
    [
      'acquire-lease invoked directly (no execution name)',
      () => acquireLease.withDeps(withDeps)({ state: { input: { mode: 'failover', cluster: CLUSTER } } }),
      /acquire-lease refused: no execution name: the lease is only taken by a state-machine execution; nothing changed/,
    ],
    [
      'acquire-lease for another cluster (ValidateInput skipped)',
      () =>
        acquireLease.withDeps(withDeps)({
          state: { input: { mode: 'failover', cluster: 'lab' } },
          executionName: 'x',
        }),
      /lease not acquired: this controller manages cluster 'rs', not 'lab'/,
    ],
    [
      'promote with a guessed epoch and candidate, no execution name',
      () => promote.withDeps(withDeps)({ state: { input, epoch: 2, oldPrimary: 'pg1', candidate: 'pg3' } }),
      /promote refused: no execution name: only the holder of epoch 2 \(rs-failover-e2\) may act; nothing changed/,
    ],
    [
      'promote under a guessed execution name',
      () =>
        promote.withDeps(withDeps)({
          state: { input, epoch: 2, oldPrimary: 'pg1', candidate: 'pg3' },
          executionName: 'rs-failover-e2-guess',
        }),
      /rs-failover-e2-guess is not the holder of epoch 2/,
    ],
    [
      'promote by the holder before any fence was verified',
      () =>
        promote.withDeps(withDeps)({
          state: { input, epoch: 2, oldPrimary: 'pg1', candidate: 'pg3' },
          executionName: 'rs-failover-e2',
        }),
      /promote refused: epoch 2 has no candidate recorded; nothing changed/,
    ],
    [
      'fence of a healthy replica',
      () =>
        fence.withDeps(withDeps)({
          state: { input, epoch: 2, oldPrimary: 'pg3', candidate: 'pg2' },
          executionName: 'rs-failover-e2',
        }),
      /fence refused: epoch 2 replaces pg1, not pg3; nothing changed/,
    ],
    [
      'select-candidate by a stranger',
      () =>
        selectCandidate.withDeps(withDeps)({ state: { input, epoch: 2, oldPrimary: 'pg1' }, executionName: 'other' }),
      /other is not the holder of epoch 2/,
    ],
    [
      'commit of a node that was never promoted',
      () => commit.withDeps(withDeps)({ state: runState({ candidate: 'pg3' }), executionName: 'rs-failover-e2' }),
      /commit refused: epoch 2 has no candidate recorded; nothing changed/,
    ],
  ];

  it.each(refusals)('%s is refused with nothing changed', async (_n, call, reason) => {
    await seed(inFlight(), { epoch: 2 });
    const before = await snapshot();
    await expect(call()).rejects.toThrow(reason);
    expect(await snapshot()).toEqual(before);
  });

  it("a stranger's abort leaves a steady cluster and a past event alone", async () => {
    await seed(base({ epoch: 2, primary: 'pg2', run: record({ candidate: 'pg2', outcome: 'committed' }) }), {
      epoch: 2,
      outcome: 'committed',
    });
    const before = await snapshot();
    await abort.withDeps(withDeps)({
      state: { input, epoch: 2, oldPrimary: 'pg1', error: { Cause: 'forged' } },
    });
    expect(await snapshot()).toEqual(before);
  });

  it('promote by the holder of a run record with candidate pg3 but no verified fence is refused, nothing changed', async () => {
    await seed(inFlight({ candidate: 'pg3' }), { epoch: 2 });
    const before = await snapshot();
    await expect(
      promote.withDeps(withDeps)({
        state: { input, epoch: 2, oldPrimary: 'pg1', candidate: 'pg3' },
        executionName: 'rs-failover-e2',
      }),
    ).rejects.toThrow(/promote refused: epoch 2 has not verified the fence of pg1; nothing changed/);
    expect(await snapshot()).toEqual(before);
  });

  it('promote of a noFailover node the run did not choose is refused, nothing changed', async () => {
    await seed(inFlight({ candidate: 'pg2', fenceVerified: true }), { epoch: 2 });
    const tagged = { pk: `CLUSTER#${CLUSTER}`, sk: 'NODE#pg3', ...node('pg3', 'replica'), noFailover: true };
    await aws.ddb.send(new PutItemCommand({ TableName: table, Item: marshall(tagged) }));
    const before = await snapshot();
    await expect(
      promote.withDeps(withDeps)({
        state: { input, epoch: 2, oldPrimary: 'pg1', candidate: 'pg3' },
        executionName: 'rs-failover-e2',
      }),
    ).rejects.toThrow(/promote refused: epoch 2 chose pg2, not pg3; nothing changed/);
    expect(await snapshot()).toEqual(before);
  });

  it('acquire-lease inside the anti-flap window is refused, nothing changed', async () => {
    // Steady at epoch 2, the last failover 10 s ago: inside minFailoverIntervalSec (300 s by default).
    await seed(base({ epoch: 2, lastFailoverAt: Date.now() - 10_000 }), { epoch: 2, outcome: 'committed' });
    const before = await snapshot();
    await expect(
      acquireLease.withDeps(withDeps)({ state: { input: { ...input } }, executionName: 'rs-failover-e3' }),
    ).rejects.toThrow(
      /lease not acquired: failover refused: anti-flap: the last failover was \d+ s ago, less than minFailoverIntervalSec/,
    );
    expect(await snapshot()).toEqual(before);
  });
});

describe('finding 3: post-commit steps refuse the node the lease names as primary', () => {
  it.each([
    ['rejoin-old-primary', rejoin],
    ['restart-old-as-replica', restartOld],
  ])('%s with oldPrimary = the lease primary is refused, nothing changed', async (name, h) => {
    await seed(base({ epoch: 2, primary: 'pg2', run: record({ candidate: 'pg2', outcome: 'committed' }) }), {
      epoch: 2,
      outcome: 'committed',
    });
    const before = await snapshot();
    await expect(
      h.withDeps(withDeps)({ state: { input, epoch: 2, oldPrimary: 'pg2', candidate: 'pg1' } }),
    ).rejects.toThrow(new RegExp(`${name} refused: pg2 is the lease's primary at epoch 2: it is never rejoined`));
    expect(await snapshot()).toEqual(before);
  });
});

describe('finding 8: conditional writes', () => {
  it('a Commit whose lease write loses a race (a newer run took the lease) changes no registry item', async () => {
    await seed(promoted(), { epoch: 2 });
    // Between the wrapper's check and the commit's write, another run takes epoch 3 (what a broken lease and a
    // new start would do): the commit's conditional transition must refuse, and the registry must not move.
    const racing: Deps = {
      ...d,
      store: new Proxy(d.store, {
        get: (t, prop) =>
          prop === 'transitionLease'
            ? async (...args: Parameters<Deps['store']['transitionLease']>) => {
                await aws.ddb.send(
                  new UpdateItemCommand({
                    TableName: table,
                    Key: { pk: { S: `CLUSTER#${CLUSTER}` }, sk: { S: 'LEASE' } },
                    UpdateExpression: 'SET epoch = :e, holder = :h',
                    ExpressionAttributeValues: { ':e': { N: '3' }, ':h': { S: 'rs-failover-e3' } },
                  }),
                );
                return t.transitionLease(...args);
              }
            : Reflect.get(t, prop, t),
      }),
    };
    const nodesBefore = (await snapshot()).filter((i) => String(i.sk).startsWith('NODE#'));
    await expect(
      commit.withDeps(async () => racing)({ state: runState(), executionName: 'rs-failover-e2' }),
    ).rejects.toThrow(/commit refused: stale epoch 2/);
    expect((await snapshot()).filter((i) => String(i.sk).startsWith('NODE#'))).toEqual(nodesBefore);
    expect(await store.getLease()).toMatchObject({ epoch: 3, holder: 'rs-failover-e3', state: 'failing-over' });
  });

  it('updateEvent cannot overwrite a committed outcome', async () => {
    await seed(base(), { epoch: 5, outcome: 'committed' });
    await expect(store.updateEvent(5, { outcome: 'aborted', reason: 'late abort' })).rejects.toThrow(
      EventCommittedError,
    );
    expect(await store.getEvent(5)).toMatchObject({ outcome: 'committed', reason: 'seeded' });
    await store.updateEvent(5, { rejoin: 'pg1 streams again' });
    expect(await store.getEvent(5)).toMatchObject({ outcome: 'committed', rejoin: 'pg1 streams again' });
  });

  it('a guarded registry write lands only while the lease names the same epoch and primary', async () => {
    await seed(base({ epoch: 3, primary: 'pg2' }));
    await expect(
      store.writeGuarded({ epoch: 2, primary: 'pg2' }, { nodes: [{ ...node('pg1', 'replica'), status: 'x' }] }),
    ).rejects.toThrow(/lease moved past epoch 2/);
    expect((await store.listNodes()).find((n) => n.name === 'pg1')!.status).toBe('healthy');
    await store.writeGuarded({ epoch: 3, primary: 'pg2' }, { nodes: [{ ...node('pg1', 'replica'), status: 'y' }] });
    expect((await store.listNodes()).find((n) => n.name === 'pg1')!.status).toBe('y');
  });

  it('two transitions decided on the same lease never both land', async () => {
    await seed(base({ epoch: 2, state: 'failing-over', holder: 'e', run: record({ holder: 'e' }) }));
    const l = await store.getLease();
    const a = store.putLease({ ...l, reason: 'a' }, { epoch: 2, state: 'failing-over', rev: l.rev ?? null });
    const b = store.putLease({ ...l, reason: 'b' }, { epoch: 2, state: 'failing-over', rev: l.rev ?? null });
    const r = await Promise.allSettled([a, b]);
    expect(r.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
  });
});

describe('finding 6: input is taken precisely', () => {
  beforeEach(() => seed(base({ epoch: 2, primary: 'pg1' })));

  it('carries only `input` on: extra keys of the start request are dropped', async () => {
    const out = await validateInput.withDeps(withDeps)({
      state: { input, epoch: 9, candidate: 'pg3', oldPrimaryLastSeenLsn: '0/0', newTimeline: 7 },
    });
    expect(out).toEqual({ input });
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['an unknown key inside the input', { ...input, candidate: 'pg3' }, /input: Unrecognized key: "candidate"/],
    ['force without a target', { ...input, force: true }, /a forced failover needs a target/],
    ['a 250 KB reason', { ...input, reason: 'x'.repeat(250_000) }, /input\.reason: at most 500 characters/],
    [
      'a reason with a terminal escape',
      { ...input, reason: 'ok\u001b[2J\nforged line' },
      /input\.reason: must be printable/,
    ],
  ])('refuses %s before anything changes', async (_n, bad, reason) => {
    const before = await snapshot();
    await expect(validateInput.withDeps(withDeps)({ state: { input: bad } })).rejects.toThrow(reason);
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a forced target that is not streaming, with the table unchanged', async () => {
    const before = await snapshot();
    // The seeded nodes listen nowhere (port 1): pg3 answers no probe and no vote saw it stream.
    await expect(
      validateInput.withDeps(withDeps)({ state: { input: { ...input, target: 'pg3', force: true } } }),
    ).rejects.toThrow(/failover refused: no eligible candidate \(.*pg3: [^;]*not streaming/);
    expect(await snapshot()).toEqual(before);
  });
});

describe('SelectCandidate over replicas it cannot reach', () => {
  it('fails retriable (the state machine looks again) instead of aborting, with no candidate recorded', async () => {
    // Every registered node here is an address nobody listens on: to the task, pg2 and pg3 are unreachable, which
    // a probe timing out on a busy network looks exactly like. Before the fix this was Pgq.Fatal (an abort).
    await seed(inFlight({}, { leaseUntil: Date.now() + 600000 }));
    await expect(
      selectCandidate.withDeps(withDeps)({
        state: { input, epoch: 2, oldPrimary: 'pg1' },
        executionName: 'rs-failover-e2',
      }),
    ).rejects.toMatchObject({
      name: 'Pgq.Retriable',
      message: expect.stringMatching(
        /no eligible candidate \(.*pg2: [^;]*unreachable.*; pg2, pg3 not reached from the controller \(looked at again before the run gives up\)$/,
      ),
    });
    expect((await store.getLease())?.run?.candidate).toBeUndefined();
  });
});

import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { clusterPartitionKey, LEASE_SORT_KEY, NODE_SORT_KEY_PREFIX, nodeSortKey } from '../../core/contract';
import type { Episode } from '../../core/episode';
import { FatalError, RetriableError } from '../../core/errors';
import type { LeaseResult } from '../../core/lease';
import type { Lease, LeaseState, RunRecord, SyncDegraded } from '../../core/types';
import type {
  EventRecord,
  FenceSnapshot,
  GuardedWrites,
  LeaseExpectation,
  LeaseGuard,
  LeaseTransition,
  RegisteredNode,
  StoredVote,
  StorePort,
  TimelineStep,
} from '../../ports/store-port';

/** The lease changed under us: another execution or operator moved it. Never retried: re-read and re-decide. */
export class LeaseConflictError extends FatalError {}
/** The store could not be read or written (throttling, endpoint down): fail static. */
export class StoreUnavailableError extends RetriableError {}
/** The cluster has no lease item: it was never seeded. */
export class NotSeededError extends FatalError {}
/** An event's committed outcome may not be rewritten (an abort or release arriving after the commit). */
export class EventCommittedError extends FatalError {}

/** How often a transition re-reads and re-decides after losing a compare-and-set (another writer, or our own lost response). */
const TRANSITION_ATTEMPTS = 3;

/** Votes live a few minutes past their usefulness (DynamoDB TTL deletes lazily). */
const VOTE_TTL_SEC = 3600;

function wrap(err: unknown, what: string): never {
  if (err instanceof FatalError || err instanceof RetriableError) throw err;
  throw new StoreUnavailableError(`${what}: ${(err as Error).name}: ${(err as Error).message}`);
}

/**
 * DynamoDB single-table store: pk `CLUSTER#<cluster>`, sk `LEASE`, `VOTE#<az>`,
 * `NODE#<name>`, `FENCE#<name>`, `EVENT#<epoch>` (and `EVENT#<epoch>#RPO#<ms>`), `EPISODE#<kind>`. Reads are strongly
 * consistent: a lease read that lags a write could let two executions act.
 */
export class DynamoStore implements StorePort {
  private readonly pk: string;

  constructor(
    private readonly ddb: DynamoDBClient,
    private readonly table: string,
    readonly cluster: string,
  ) {
    this.pk = clusterPartitionKey(cluster);
  }

  private async get(sk: string): Promise<Record<string, unknown> | undefined> {
    try {
      const r = await this.ddb.send(
        new GetItemCommand({ TableName: this.table, Key: marshall({ pk: this.pk, sk }), ConsistentRead: true }),
      );
      return r.Item ? unmarshall(r.Item) : undefined;
    } catch (err) {
      wrap(err, `read ${sk}`);
    }
  }

  private async query(
    prefix: string,
    opts: { limit?: number; newestFirst?: boolean } = {},
  ): Promise<Record<string, unknown>[]> {
    try {
      const out: Record<string, unknown>[] = [];
      let start: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
      do {
        const r = await this.ddb.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
            ExpressionAttributeValues: marshall({ ':pk': this.pk, ':p': prefix }),
            ConsistentRead: true,
            ScanIndexForward: !opts.newestFirst,
            Limit: opts.limit,
            ExclusiveStartKey: start,
          }),
        );
        out.push(...(r.Items ?? []).map((i) => unmarshall(i)));
        start = opts.limit && out.length >= opts.limit ? undefined : r.LastEvaluatedKey;
      } while (start);
      return out;
    } catch (err) {
      wrap(err, `query ${prefix}`);
    }
  }

  async getLease(): Promise<Lease> {
    const i = await this.get(LEASE_SORT_KEY);
    if (!i) throw new NotSeededError(`cluster ${this.cluster} has no lease in table ${this.table}: seed it first`);
    return {
      epoch: Number(i.epoch),
      state: i.state as LeaseState,
      primary: String(i.primary),
      holder: (i.holder as string | null) ?? null,
      leaseUntil: Number(i.leaseUntil ?? 0),
      reason: String(i.reason ?? ''),
      updatedAt: Number(i.updatedAt ?? 0),
      lastFailoverAt: i.lastFailoverAt == null ? null : Number(i.lastFailoverAt),
      ...(i.resumeState ? { resumeState: i.resumeState as 'steady' | 'paused' } : {}),
      ...(i.run ? { run: i.run as RunRecord } : {}),
      ...(i.rev != null ? { rev: Number(i.rev) } : {}),
      ...(i.syncDegraded ? { syncDegraded: i.syncDegraded as SyncDegraded } : {}),
    };
  }

  /**
   * Writes a cluster's first lease (lambdas/core/registry-seed.ts builds it) only where it has none, as the stack's
   * seed does: a lease that exists is never reset by a seed. The lab empties the partition before it re-seeds.
   */
  async seedLease(lease: Lease): Promise<void> {
    try {
      await this.ddb.send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall({ pk: this.pk, sk: LEASE_SORT_KEY, ...lease }, { removeUndefinedValues: true }),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        throw new LeaseConflictError(`cluster ${this.cluster} already has a lease: a seed never resets it`);
      }
      wrap(err, 'seed lease');
    }
  }

  /** The lease item's put, conditional on what it was decided on; the write counter moves by one. */
  private leasePut(next: Lease, expected: LeaseExpectation): TransactWriteItem['Put'] & object {
    const revCheck =
      expected.rev === undefined ? '' : expected.rev === null ? ' AND attribute_not_exists(rev)' : ' AND rev = :r';
    return {
      TableName: this.table,
      Item: marshall(
        { pk: this.pk, sk: LEASE_SORT_KEY, ...next, rev: (expected.rev ?? next.rev ?? 0) + 1 },
        { removeUndefinedValues: true },
      ),
      ConditionExpression: `epoch = :e AND #s = :s${revCheck}`,
      ExpressionAttributeNames: { '#s': 'state' },
      ExpressionAttributeValues: marshall({
        ':e': expected.epoch,
        ':s': expected.state,
        ...(typeof expected.rev === 'number' ? { ':r': expected.rev } : {}),
      }),
    };
  }

  private conflict(expected: LeaseExpectation, cur: Record<string, unknown> | undefined): LeaseConflictError {
    return new LeaseConflictError(
      `lease changed: expected epoch ${expected.epoch} (${expected.state}), found ${cur ? `epoch ${cur.epoch} (${cur.state})` : 'something else'}`,
      { expected, actual: cur ? { epoch: cur.epoch, state: cur.state } : undefined },
    );
  }

  async putLease(next: Lease, expected: LeaseExpectation): Promise<void> {
    try {
      await this.ddb.send(
        new PutItemCommand({ ...this.leasePut(next, expected), ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        throw this.conflict(expected, err.Item ? unmarshall(err.Item) : undefined);
      }
      wrap(err, 'write lease');
    }
  }

  /**
   * The one compare-and-set of the lease: read, decide, write conditionally on
   * the epoch, state and write counter read. A lost race (or our own write
   * whose response was lost and which the SDK re-sent) re-reads and
   * re-decides, so a decision that recognises its own finished write returns
   * the lease unchanged instead of failing. `writes` go into the same
   * transaction, guarded by the lease: the registry and history never record
   * a transition that did not happen.
   */
  async transitionLease(
    decide: (lease: Lease) => LeaseResult,
    writes?: (after: Lease) => GuardedWrites,
  ): Promise<LeaseTransition> {
    for (let attempt = 1; ; attempt++) {
      const before = await this.getLease();
      const r = decide(before);
      if (!r.ok) return { ok: false, before, reason: r.reason };
      const changed = r.lease !== before;
      const expected: LeaseExpectation = { epoch: before.epoch, state: before.state, rev: before.rev ?? null };
      const extra = writes ? this.guardedItems(writes(r.lease)) : [];
      try {
        if (changed && !extra.length) await this.putLease(r.lease, expected);
        else if (changed || extra.length) {
          const lease: TransactWriteItem = changed
            ? { Put: this.leasePut(r.lease, expected) }
            : {
                ConditionCheck: this.leaseCheck({ epoch: before.epoch, state: before.state, rev: before.rev ?? null }),
              };
          await this.transact([lease, ...extra], expected);
        }
        return { ok: true, before, lease: changed ? { ...r.lease, rev: (before.rev ?? 0) + 1 } : before, changed };
      } catch (err) {
        if (err instanceof LeaseConflictError && attempt < TRANSITION_ATTEMPTS) continue;
        throw err;
      }
    }
  }

  private leaseCheck(expected: LeaseExpectation): NonNullable<TransactWriteItem['ConditionCheck']> {
    const { Item: _item, ...check } = this.leasePut({} as Lease, expected);
    return { ...check, Key: marshall({ pk: this.pk, sk: LEASE_SORT_KEY }) } as NonNullable<
      TransactWriteItem['ConditionCheck']
    >;
  }

  private guardedItems(w: GuardedWrites): TransactWriteItem[] {
    const items: TransactWriteItem[] = (w.nodes ?? []).map((n) => ({
      Put: {
        TableName: this.table,
        Item: marshall({ pk: this.pk, sk: nodeSortKey(n.name), ...n }, { removeUndefinedValues: true }),
      },
    }));
    if (w.event) items.push({ Update: this.eventUpdate(w.event.epoch, w.event.fields) });
    return items;
  }

  private async transact(items: TransactWriteItem[], expected: LeaseExpectation): Promise<void> {
    try {
      await this.ddb.send(new TransactWriteItemsCommand({ TransactItems: items }));
    } catch (err) {
      if (err instanceof TransactionCanceledException) {
        const reasons = err.CancellationReasons ?? [];
        if (reasons[0]?.Code === 'ConditionalCheckFailed') throw this.conflict(expected, undefined);
        if (reasons.some((r) => r.Code === 'ConditionalCheckFailed')) {
          throw new EventCommittedError(`event ${expected.epoch}: its committed outcome may not be rewritten`);
        }
      }
      wrap(err, 'write lease and records');
    }
  }

  /**
   * Registry and history writes that hold only while the lease still says
   * what the writer acted on (epoch, and the primary it followed): a step
   * that ran for minutes (a rejoin) must not record over a newer run.
   */
  async writeGuarded(guard: LeaseGuard, writes: GuardedWrites): Promise<void> {
    const items = this.guardedItems(writes);
    if (!items.length) return;
    const check: TransactWriteItem = {
      ConditionCheck: {
        TableName: this.table,
        Key: marshall({ pk: this.pk, sk: LEASE_SORT_KEY }),
        ConditionExpression: `epoch = :e${guard.primary ? ' AND #p = :p' : ''}`,
        ...(guard.primary ? { ExpressionAttributeNames: { '#p': 'primary' } } : {}),
        ExpressionAttributeValues: marshall({ ':e': guard.epoch, ...(guard.primary ? { ':p': guard.primary } : {}) }),
      },
    };
    try {
      await this.ddb.send(new TransactWriteItemsCommand({ TransactItems: [check, ...items] }));
    } catch (err) {
      if (
        err instanceof TransactionCanceledException &&
        err.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed'
      ) {
        throw new LeaseConflictError(
          `lease moved past epoch ${guard.epoch}${guard.primary ? ` / primary ${guard.primary}` : ''}: not recorded`,
          { guard },
        );
      }
      if (err instanceof TransactionCanceledException) {
        throw new EventCommittedError(`event ${guard.epoch}: its committed outcome may not be rewritten`);
      }
      wrap(err, 'guarded write');
    }
  }

  async getVotes(): Promise<StoredVote[]> {
    return (await this.query('VOTE#')).map((i) => ({
      az: String(i.az),
      seq: Number(i.seq),
      observedAt: Number(i.observedAt),
      primary: String(i.primary),
      primaryOk: Boolean(i.primaryOk),
      consecutiveFailures: Number(i.consecutiveFailures),
      // Read back, or the quorum would count a round that could not judge the primary as a plain failure.
      ...(typeof i.primaryUnknown === 'string' ? { primaryUnknown: i.primaryUnknown } : {}),
      nodes: (i.nodes as StoredVote['nodes']) ?? {},
    }));
  }

  async putVote(vote: StoredVote): Promise<boolean> {
    try {
      await this.ddb.send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall(
            {
              pk: this.pk,
              sk: `VOTE#${vote.az}`,
              ...vote,
              expiresAt: Math.floor(vote.observedAt / 1000) + VOTE_TTL_SEC,
            },
            { removeUndefinedValues: true, convertClassInstanceToMap: true },
          ),
          ConditionExpression: 'attribute_not_exists(pk) OR seq < :seq',
          ExpressionAttributeValues: marshall({ ':seq': vote.seq }),
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      wrap(err, `write vote ${vote.az}`);
    }
  }

  async listNodes(): Promise<RegisteredNode[]> {
    return (await this.query(NODE_SORT_KEY_PREFIX)).map((i) => ({
      name: String(i.name),
      instanceId: String(i.instanceId),
      az: String(i.az),
      privateIp: String(i.privateIp),
      host: String(i.host ?? i.privateIp),
      port: Number(i.port ?? 5432),
      ...(i.replicationHost ? { replicationHost: String(i.replicationHost) } : {}),
      ...(i.replicationPort ? { replicationPort: Number(i.replicationPort) } : {}),
      securityGroupId: String(i.securityGroupId),
      role: i.role === 'primary' ? 'primary' : 'replica',
      status: String(i.status ?? 'unknown'),
      noFailover: Boolean(i.noFailover),
    }));
  }

  async putNode(node: RegisteredNode): Promise<void> {
    try {
      await this.ddb.send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall({ pk: this.pk, sk: nodeSortKey(node.name), ...node }, { removeUndefinedValues: true }),
        }),
      );
    } catch (err) {
      wrap(err, `write node ${node.name}`);
    }
  }

  async saveFenceSnapshot(s: FenceSnapshot): Promise<FenceSnapshot> {
    try {
      await this.ddb.send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall({ pk: this.pk, sk: `FENCE#${s.node}`, ...s }),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return s;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return (await this.getFenceSnapshot(s.node))!;
      wrap(err, `save fence snapshot ${s.node}`);
    }
  }

  async getFenceSnapshot(node: string): Promise<FenceSnapshot | undefined> {
    const i = await this.get(`FENCE#${node}`);
    return i
      ? {
          node: String(i.node),
          securityGroupId: String(i.securityGroupId),
          rules: String(i.rules),
          epoch: Number(i.epoch),
          fencedAt: Number(i.fencedAt),
        }
      : undefined;
  }

  async deleteFenceSnapshot(node: string): Promise<void> {
    try {
      await this.ddb.send(
        new DeleteItemCommand({ TableName: this.table, Key: marshall({ pk: this.pk, sk: `FENCE#${node}` }) }),
      );
    } catch (err) {
      wrap(err, `delete fence snapshot ${node}`);
    }
  }

  private eventSk(epoch: number): string {
    return `EVENT#${String(epoch).padStart(10, '0')}`;
  }

  async startEvent(e: EventRecord): Promise<EventRecord> {
    try {
      await this.ddb.send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall({ pk: this.pk, sk: this.eventSk(e.epoch), ...e }, { removeUndefinedValues: true }),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return e;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return (await this.getEvent(e.epoch))!;
      wrap(err, `start event ${e.epoch}`);
    }
  }

  async appendTimeline(epoch: number, step: TimelineStep): Promise<void> {
    const cur = await this.getEvent(epoch);
    if (cur?.timeline.some((s) => s.step === step.step && s.detail === step.detail)) return;
    try {
      await this.ddb.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall({ pk: this.pk, sk: this.eventSk(epoch) }),
          UpdateExpression: 'SET timeline = list_append(if_not_exists(timeline, :empty), :s)',
          ExpressionAttributeValues: marshall({ ':s': [step], ':empty': [] }),
        }),
      );
    } catch (err) {
      wrap(err, `append timeline ${epoch}`);
    }
  }

  /**
   * A committed outcome is final: an update that sets any other outcome is
   * conditional on the event not being committed (a late abort or release
   * must not rewrite history).
   */
  private eventUpdate(
    epoch: number,
    fields: Partial<Omit<EventRecord, 'epoch' | 'timeline'>>,
  ): NonNullable<TransactWriteItem['Update']> {
    const entries = Object.entries(fields).filter(([, v]) => v !== undefined);
    const guardOutcome = fields.outcome !== undefined && fields.outcome !== 'committed';
    return {
      TableName: this.table,
      Key: marshall({ pk: this.pk, sk: this.eventSk(epoch) }),
      UpdateExpression: `SET ${entries.map((_, i) => `#f${i} = :v${i}`).join(', ')}`,
      ...(guardOutcome ? { ConditionExpression: 'attribute_not_exists(#o) OR #o <> :committed' } : {}),
      ExpressionAttributeNames: {
        ...Object.fromEntries(entries.map(([k], i) => [`#f${i}`, k])),
        ...(guardOutcome ? { '#o': 'outcome' } : {}),
      },
      ExpressionAttributeValues: marshall(
        {
          ...Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, v])),
          ...(guardOutcome ? { ':committed': 'committed' } : {}),
        },
        { removeUndefinedValues: true },
      ),
    };
  }

  async updateEvent(epoch: number, fields: Partial<Omit<EventRecord, 'epoch' | 'timeline'>>): Promise<void> {
    if (!Object.values(fields).some((v) => v !== undefined)) return;
    try {
      await this.ddb.send(new UpdateItemCommand(this.eventUpdate(epoch, fields)));
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        throw new EventCommittedError(`event ${epoch} is committed: outcome ${fields.outcome} not recorded`);
      }
      wrap(err, `update event ${epoch}`);
    }
  }

  async getEvent(epoch: number): Promise<EventRecord | undefined> {
    const i = await this.get(this.eventSk(epoch));
    return i ? toEvent(i) : undefined;
  }

  async listEvents(limit = 50): Promise<EventRecord[]> {
    return (await this.query('EVENT#', { limit, newestFirst: true })).map(toEvent);
  }

  async putWindowEvent(e: EventRecord): Promise<void> {
    // After the epoch's own event in sk order, so the history lists it in time order with the runs.
    const sk = `${this.eventSk(e.epoch)}#RPO#${String(e.startedAt).padStart(15, '0')}`;
    try {
      await this.ddb.send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall({ pk: this.pk, sk, ...e }, { removeUndefinedValues: true }),
        }),
      );
    } catch (err) {
      wrap(err, `write rpo window ${e.epoch}`);
    }
  }

  async getEpisodes(): Promise<Episode[]> {
    return (await this.query('EPISODE#')).map((i) => {
      const { pk: _pk, sk: _sk, ...rest } = i;
      return rest as unknown as Episode;
    });
  }

  async putEpisode(next: Episode, expectedRev: number | null): Promise<boolean> {
    try {
      await this.ddb.send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall(
            { pk: this.pk, sk: `EPISODE#${next.kind}`, ...next, rev: (expectedRev ?? 0) + 1 },
            { removeUndefinedValues: true },
          ),
          ConditionExpression: expectedRev === null ? 'attribute_not_exists(pk)' : 'rev = :r',
          ...(expectedRev === null ? {} : { ExpressionAttributeValues: marshall({ ':r': expectedRev }) }),
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      wrap(err, `write episode ${next.kind}`);
    }
  }
}

function toEvent(i: Record<string, unknown>): EventRecord {
  const { pk: _pk, sk: _sk, ...rest } = i;
  const e = rest as unknown as EventRecord;
  return { ...e, timeline: e.timeline ?? [] };
}

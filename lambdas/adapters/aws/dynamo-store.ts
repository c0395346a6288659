import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { FatalError, RetriableError } from '../../core/errors';
import type { Lease, LeaseState } from '../../core/types';
import type {
  EventRecord,
  FenceSnapshot,
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

/** Votes live a few minutes past their usefulness (DynamoDB TTL deletes lazily). */
const VOTE_TTL_SEC = 3600;

function wrap(err: unknown, what: string): never {
  if (err instanceof FatalError || err instanceof RetriableError) throw err;
  throw new StoreUnavailableError(`${what}: ${(err as Error).name}: ${(err as Error).message}`);
}

/**
 * DynamoDB single-table store: pk `CLUSTER#<cluster>`, sk `LEASE`, `VOTE#<az>`,
 * `NODE#<name>`, `FENCE#<name>`, `EVENT#<epoch>`. Reads are strongly
 * consistent: a lease read that lags a write could let two executions act.
 */
export class DynamoStore implements StorePort {
  private readonly pk: string;

  constructor(
    private readonly ddb: DynamoDBClient,
    private readonly table: string,
    readonly cluster: string,
  ) {
    this.pk = `CLUSTER#${cluster}`;
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
    const i = await this.get('LEASE');
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
    };
  }

  async putLease(next: Lease, expected: { epoch: number; state: LeaseState }): Promise<void> {
    try {
      await this.ddb.send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall({ pk: this.pk, sk: 'LEASE', ...next }, { removeUndefinedValues: true }),
          ConditionExpression: 'epoch = :e AND #s = :s',
          ExpressionAttributeNames: { '#s': 'state' },
          ExpressionAttributeValues: marshall({ ':e': expected.epoch, ':s': expected.state }),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        const cur = err.Item ? unmarshall(err.Item) : undefined;
        throw new LeaseConflictError(
          `lease changed: expected epoch ${expected.epoch} (${expected.state}), found ${cur ? `epoch ${cur.epoch} (${cur.state})` : 'something else'}`,
          { expected, actual: cur ? { epoch: cur.epoch, state: cur.state } : undefined },
        );
      }
      wrap(err, 'write lease');
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
    return (await this.query('NODE#')).map((i) => ({
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
          Item: marshall({ pk: this.pk, sk: `NODE#${node.name}`, ...node }, { removeUndefinedValues: true }),
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

  async updateEvent(epoch: number, fields: Partial<Omit<EventRecord, 'epoch' | 'timeline'>>): Promise<void> {
    const entries = Object.entries(fields).filter(([, v]) => v !== undefined);
    if (!entries.length) return;
    try {
      await this.ddb.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall({ pk: this.pk, sk: this.eventSk(epoch) }),
          UpdateExpression: `SET ${entries.map((_, i) => `#f${i} = :v${i}`).join(', ')}`,
          ExpressionAttributeNames: Object.fromEntries(entries.map(([k], i) => [`#f${i}`, k])),
          ExpressionAttributeValues: marshall(Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, v])), {
            removeUndefinedValues: true,
          }),
        }),
      );
    } catch (err) {
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
}

function toEvent(i: Record<string, unknown>): EventRecord {
  const { pk: _pk, sk: _sk, ...rest } = i;
  const e = rest as unknown as EventRecord;
  return { ...e, timeline: e.timeline ?? [] };
}

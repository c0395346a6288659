/**
 * The names the stack, the adapters, the state machine, the lab and the CLI must agree on, in one module. It lives
 * in lambdas/core (pure constants) so every layer may import it: core, adapters, handlers, infra, cli and lab.
 * Each is API: renaming one strands alarms, retries, table items or documents of a running deployment.
 */

/** The CloudWatch namespace every metric, alarm and dashboard widget uses. */
export const METRIC_NAMESPACE = 'PgQuorum';

/** The metrics the functions publish and the alarms and dashboard read. */
export const METRICS = {
  /** 1 or 0 per probe AZ (dimension Az): the quorum backstop and the probes-silent alarms read it. */
  primaryReachable: 'PrimaryReachable',
  /** Per replica (dimension Node) and cluster-wide (the ReplicaLag alarm). */
  replicaLagBytes: 'ReplicaLagBytes',
  /** 1 while the primary has no synchronous standby (dashboard only). */
  syncStandbyMissing: 'SyncStandbyMissing',
  /** Seconds since the primary lost its last synchronous standby (the SyncStandbyMissing alarm). */
  syncStandbyMissingSeconds: 'SyncStandbyMissingSeconds',
  /** Writable primaries the lease does not name (the UnnamedPrimary alarm). */
  unnamedPrimary: 'UnnamedPrimary',
  /** One per committed run (dimension Kind: failover or switchover). */
  failoverDuration: 'FailoverDuration',
  bytesAtRisk: 'BytesAtRisk',
  needsAttention: 'NeedsAttention',
} as const;

/** Error names the state machine's Retry and Catch match on; the task wrapper gives every step error one of them. */
export const STEP_ERRORS = {
  /** Retried with backoff: the epoch guard makes re-running a step safe. */
  retriable: 'Pgq.Retriable',
  /** Goes to Abort (lease to needs-attention, one notification). */
  fatal: 'Pgq.Fatal',
  /** The candidate failed after it was chosen: routed to Replan instead of Abort. */
  candidateFailed: 'Pgq.CandidateFailed',
} as const;

/** The table's key schema and TTL attribute (the stack's table, the lab's, the adapter's items). */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk', timeToLive: 'expiresAt' } as const;

/** A cluster's partition: its lease, votes, nodes and history share it, so they change in one transaction. */
export function clusterPartitionKey(cluster: string): string {
  return `CLUSTER#${cluster}`;
}

/** The lease item's sort key. */
export const LEASE_SORT_KEY = 'LEASE';

/** The prefix of the node registry's sort keys. */
export const NODE_SORT_KEY_PREFIX = 'NODE#';

/** A node's registry item sort key. */
export function nodeSortKey(name: string): string {
  return `${NODE_SORT_KEY_PREFIX}${name}`;
}

/** The default labels of the writer and reader records (infra/config.ts `writerRecord`, `readerRecord`). */
export const RECORD_LABELS = { writer: 'writer', reader: 'reader' } as const;

/**
 * A record's fully qualified name, `<label>.<zone name>`: the stack gives it to the functions (PGQ_WRITER_RECORD,
 * PGQ_READER_RECORD) and the lab seeds the same names, so a change of naming reaches both.
 */
export function recordName(label: string, zoneName: string): string {
  return `${label}.${zoneName}`;
}

/** The prefix of a cluster's SSM documents (the functions get it as PGQ_SSM_DOCUMENT_PREFIX). */
export function ssmDocumentPrefix(cluster: string): string {
  return `pgquorum-${cluster}`;
}

/** The SSM document that runs a host script. */
export function ssmDocumentName(prefix: string, script: string): string {
  return `${prefix}-${script}`;
}

/**
 * How long a task a stopped (or timed-out) execution started may still run: stopping an execution does not stop a
 * Lambda invocation already in flight, so a task can act up to its own timeout after the stop. The longest timeout
 * of a task that runs while the lease is in flight (RollbackSwitchover 120 s; Fence 90 s); infra/constructs/tasks.ts
 * is checked against it (test/infra/contract.test.ts). `lease break` waits this long after the holder ended.
 * @default 120000
 */
export const IN_FLIGHT_TASK_DRAIN_MS = 120_000;

/**
 * The immutable views the core decides on. Handlers build them through ports
 * (probes, DynamoDB); the core never performs I/O.
 */

/** What PostgreSQL says a node is. */
export type Role = 'primary' | 'replica' | 'unknown';

/** One node as the controller last saw it. */
export interface NodeView {
  readonly name: string;
  readonly az: string;
  readonly role: Role;
  readonly timeline: number | null;
  /** pg_current_wal_lsn() on a primary. */
  readonly currentLsn: string | null;
  /** pg_last_wal_receive_lsn() on a replica. */
  readonly receiveLsn: string | null;
  /** pg_last_wal_replay_lsn() on a replica. */
  readonly replayLsn: string | null;
  /** Replica: pg_is_wal_replay_paused() (received WAL is not applied). Absent when not probed. @default false */
  readonly replayPaused?: boolean;
  /** True while its WAL receiver streams. */
  readonly streaming: boolean;
  /** When it was last seen streaming (ms epoch); a dead primary stops every stream, so recent counts. */
  readonly lastStreamedAt: number | null;
  /** Per probe AZ: did that AZ reach the node on its last probe. */
  readonly reachableFrom: Readonly<Record<string, boolean>>;
  readonly tags: Readonly<{ noFailover?: boolean }>;
  /** The registry's status (`needs-reclone`: a candidate an earlier run gave up on). @default not known */
  readonly registryStatus?: string;
}

/** The whole cluster at one instant. */
export interface ClusterView {
  readonly cluster: string;
  /** The node the lease names as primary. */
  readonly primary: string;
  readonly nodes: readonly NodeView[];
  /** The probe AZs (normally three). */
  readonly probeAzs: readonly string[];
  /** The old primary's last LSN seen by any probe (RPO accounting). */
  readonly primaryLastSeenLsn: string | null;
  /**
   * When a probe last reached the old primary (ms), while it is not reached now; undefined when unknown or
   * reached now. A dead primary stops every stream: streaming is judged as of this instant, not as of an
   * operator's command minutes later.
   */
  readonly primaryLastSeenAt?: number;
  readonly now: number;
}

/** One probe AZ's vote about the primary. */
export interface Vote {
  readonly az: string;
  /** Only moves forward (conditional write). */
  readonly seq: number;
  readonly observedAt: number;
  /** The primary this vote is about. */
  readonly primary: string;
  readonly primaryOk: boolean;
  readonly consecutiveFailures: number;
  /**
   * Set when this AZ could not judge the primary this round (it answered, but refused the controller's credentials):
   * why. Such a vote counts for neither side, so a credential fault never adds up to a failover.
   */
  readonly primaryUnknown?: string;
}

/** Lease states (docs/design.md section 1). */
export type LeaseState = 'steady' | 'failing-over' | 'switching-over' | 'paused' | 'needs-attention';

/** The per-cluster lease: its epoch is the fencing token every mutating step re-checks. */
export interface Lease {
  readonly epoch: number;
  readonly state: LeaseState;
  readonly primary: string;
  readonly holder: string | null;
  readonly leaseUntil: number;
  readonly reason: string;
  readonly updatedAt: number;
  /** When the last automatic failover committed (anti-flap). */
  readonly lastFailoverAt: number | null;
  /** The state an operation started from, restored on commit (a switchover of a paused cluster stays paused). */
  readonly resumeState?: 'steady' | 'paused';
  /**
   * The record of the run that took this epoch (kept after it ends, until the next run takes the lease): what
   * the run decided and proved, advanced by conditional writes, so a step can tell its own retry from a
   * stranger's call. Absent on a lease no run has taken yet.
   */
  readonly run?: RunRecord;
  /**
   * The store's write counter (compare-and-set token): bumped by every lease write, so two writes decided on
   * the same lease never both land. Managed by the store, never by the core.
   */
  readonly rev?: number;
  /**
   * Set while onNoSyncStandby degrade has emptied this primary's synchronous_standby_names (an RPO window: async
   * semantics for the fence and the RPO account). Absent in every other case.
   */
  readonly syncDegraded?: SyncDegraded;
}

/** A degrade of synchronous replication (onNoSyncStandby degrade), as the lease records it. */
export interface SyncDegraded {
  /** The primary whose synchronous_standby_names was emptied. */
  readonly primary: string;
  /** The lease epoch it happened at (steady, no run). */
  readonly epoch: number;
  /** When the RPO window opened (ms epoch). */
  readonly since: number;
  /** The setting it had, put back when a standby streams again. */
  readonly savedNames: string;
  /** When a standby streamed again and the probes started putting savedNames back. */
  readonly restoringSince?: number;
}

/** How a run ended, as its record says. */
export type RunOutcome =
  | 'committed'
  | 'released'
  | 'aborted'
  /** A switchover that failed before its promotion: the old primary is the primary again. */
  | 'rolled-back';

/**
 * A run's own record in the lease (invariant 5). Each field is written once, in order, by the step that
 * decided or proved it; a step whose input disagrees with the record, or whose caller is not the holder, refuses.
 */
export interface RunRecord {
  /** The Step Functions execution name that took the epoch. */
  readonly holder: string;
  readonly mode: Mode;
  /** The lease's primary when the run took it. */
  readonly oldPrimary: string;
  /** The node SelectCandidate chose (CheckTarget for a switchover). */
  readonly candidate?: string;
  /** VerifyFence proved the old primary cannot take writes (failover). */
  readonly fenceVerified?: boolean;
  /** StopOldPrimary's final checkpoint LSN (switchover): the old primary is down cleanly. */
  readonly finalLsn?: string;
  /** Promote's LSN: the candidate is promoted. */
  readonly promotedLsn?: string;
  readonly outcome?: RunOutcome;
  /**
   * Candidates this run gave up on (Replan): each was fenced before it was added, and SelectCandidate never
   * chooses or adopts one again. Only `replanRun` writes it. @default []
   */
  readonly excluded?: readonly string[];
}

/** What the state machine is asked to do. */
export type Mode = 'failover' | 'switchover';

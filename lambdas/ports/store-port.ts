import type { Episode } from '../core/episode';
import type { LeaseResult } from '../core/lease';
import type { Lease, LeaseState, Vote } from '../core/types';

/** A node of the registry, as seeded by the operator (CDK config) or the lab. */
export interface RegisteredNode {
  readonly name: string;
  readonly instanceId: string;
  readonly az: string;
  readonly privateIp: string;
  /** Where the controller connects (privateIp:5432 on AWS; a gate port in the lab). */
  readonly host: string;
  readonly port: number;
  /** Where replicas stream from this node when it is primary (defaults to host/port). */
  readonly replicationHost?: string;
  readonly replicationPort?: number;
  readonly securityGroupId: string;
  readonly role: 'primary' | 'replica';
  readonly status: string;
  readonly noFailover: boolean;
}

/** A probe AZ's vote plus what it saw of every node (for the candidate view). */
export interface StoredVote extends Vote {
  readonly nodes: Readonly<Record<string, NodeSeen>>;
}

/** One node as one probe AZ saw it. */
export interface NodeSeen {
  readonly ok: boolean;
  readonly role?: 'primary' | 'replica';
  readonly timeline?: number;
  readonly currentLsn?: string | null;
  readonly receiveLsn?: string | null;
  readonly replayLsn?: string | null;
  readonly streaming?: boolean;
  readonly lastStreamedAt?: number | null;
  readonly syncStandbyMissing?: boolean;
  /** The primary's LSN the last time this AZ reached it (carried forward while it is down: RPO accounting). */
  readonly lastSeenLsn?: string | null;
  readonly lastSeenAt?: number | null;
  /** The primary's WAL rate (bytes/s, a slowly decaying maximum), carried forward: bounds what it wrote unseen. */
  readonly lsnRate?: number | null;
}

/** The ingress rules a fence removed, kept to restore them at rejoin. */
export interface FenceSnapshot {
  readonly node: string;
  readonly securityGroupId: string;
  /** EC2 IpPermissions as JSON. */
  readonly rules: string;
  readonly epoch: number;
  readonly fencedAt: number;
}

/** One step of a failover's timeline. */
export interface TimelineStep {
  readonly step: string;
  readonly at: number;
  readonly detail: string;
}

/** The history record of one failover, switchover or rejoin. */
export interface EventRecord {
  readonly epoch: number;
  /** rpo-window: onNoSyncStandby degrade ran the primary without a synchronous standby (stored beside the epoch's run). */
  readonly kind: 'failover' | 'switchover' | 'rpo-window';
  readonly startedAt: number;
  /** open/closed: an rpo-window's. */
  readonly outcome: 'running' | 'committed' | 'aborted' | 'rolled-back' | 'open' | 'closed';
  readonly oldPrimary: string;
  readonly newPrimary?: string;
  /** The node the run chose (kept when it aborts: a rerun may have to finish that promotion). */
  readonly candidate?: string;
  readonly reason: string;
  readonly timeline: readonly TimelineStep[];
  readonly oldPrimaryLastSeenLsn?: string | null;
  readonly promotedLsn?: string | null;
  /** Decimal string (bigint), or null when unknown. */
  readonly bytesAtRisk?: string | null;
  readonly lostTransactions?: readonly string[];
  readonly rejoin?: string;
  /** Candidates the run gave up on and fenced (Replan). */
  readonly excluded?: readonly string[];
  /** A committed run's missing pieces, one line each (commitHealth): shown as committed-degraded. */
  readonly degraded?: readonly string[];
}

/** What a lease write is conditional on: the epoch and state it was decided on, and the store's write counter. */
export interface LeaseExpectation {
  readonly epoch: number;
  readonly state: LeaseState;
  /** The write counter read (null: the item had none yet); undefined: not checked. @default undefined */
  readonly rev?: number | null;
}

/** The outcome of a lease transition: the lease before and after, or the core's refusal with nothing written. */
export type LeaseTransition =
  | { readonly ok: true; readonly before: Lease; readonly lease: Lease; readonly changed: boolean }
  | { readonly ok: false; readonly before: Lease; readonly reason: string };

/** Registry and history writes that land only together with (or under) the lease condition. */
export interface GuardedWrites {
  readonly nodes?: readonly RegisteredNode[];
  readonly event?: { readonly epoch: number; readonly fields: Partial<Omit<EventRecord, 'epoch' | 'timeline'>> };
}

/** What the lease must still say for a guarded write to land. */
export interface LeaseGuard {
  readonly epoch: number;
  /** The primary the writer followed. @default not checked */
  readonly primary?: string;
}

/** The quorum, lease, registry and history store (DynamoDB on AWS and in the lab). */
export interface StorePort {
  getLease(): Promise<Lease>;
  /**
   * Conditional on the lease still being at `expected`; LeaseConflictError otherwise. Seeding and tests only:
   * the product changes the lease through transitionLease.
   */
  putLease(next: Lease, expected: LeaseExpectation): Promise<void>;
  /**
   * The one lease compare-and-set: reads the lease, lets the core decide, writes conditionally (re-reading and
   * re-deciding after a lost race), with `writes` in the same transaction. A refusal writes nothing.
   */
  transitionLease(
    decide: (lease: Lease) => LeaseResult,
    writes?: (after: Lease) => GuardedWrites,
  ): Promise<LeaseTransition>;
  /** Registry/history writes conditional on the lease still being at `guard`; LeaseConflictError otherwise. */
  writeGuarded(guard: LeaseGuard, writes: GuardedWrites): Promise<void>;
  getVotes(): Promise<StoredVote[]>;
  /** Conditional: the AZ's sequence only moves forward; false when a newer vote is already stored. */
  putVote(vote: StoredVote): Promise<boolean>;
  listNodes(): Promise<RegisteredNode[]>;
  putNode(node: RegisteredNode): Promise<void>;
  /** Saves the snapshot only if none exists: a second fence must not overwrite the real rules with an empty set. */
  saveFenceSnapshot(s: FenceSnapshot): Promise<FenceSnapshot>;
  getFenceSnapshot(node: string): Promise<FenceSnapshot | undefined>;
  deleteFenceSnapshot(node: string): Promise<void>;
  /** Creates the event of an epoch if missing (idempotent) and returns the stored one. */
  startEvent(e: EventRecord): Promise<EventRecord>;
  /** Appends a timeline step once (a retried step with the same name and detail is not duplicated). */
  appendTimeline(epoch: number, step: TimelineStep): Promise<void>;
  /** Never rewrites a committed outcome (EventCommittedError). */
  updateEvent(epoch: number, fields: Partial<Omit<EventRecord, 'epoch' | 'timeline'>>): Promise<void>;
  getEvent(epoch: number): Promise<EventRecord | undefined>;
  listEvents(limit?: number): Promise<EventRecord[]>;
  /** An rpo-window record, keyed by its epoch and start (beside the epoch's run, listed with the history); upsert. */
  putWindowEvent(e: EventRecord): Promise<void>;
  /** The stored episodes (one per kind). */
  getEpisodes(): Promise<Episode[]>;
  /**
   * Conditional on the stored episode's revision still being `expectedRev` (null: none stored): false when
   * another probe wrote first (it pages, not us).
   */
  putEpisode(next: Episode, expectedRev: number | null): Promise<boolean>;
}

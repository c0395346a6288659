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
  readonly kind: 'failover' | 'switchover';
  readonly startedAt: number;
  readonly outcome: 'running' | 'committed' | 'aborted';
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
}

/** The quorum, lease, registry and history store (DynamoDB on AWS and in the lab). */
export interface StorePort {
  getLease(): Promise<Lease>;
  /** Conditional on the lease still being at `expected` (epoch and state); LeaseConflictError otherwise. */
  putLease(next: Lease, expected: { epoch: number; state: LeaseState }): Promise<void>;
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
  updateEvent(epoch: number, fields: Partial<Omit<EventRecord, 'epoch' | 'timeline'>>): Promise<void>;
  getEvent(epoch: number): Promise<EventRecord | undefined>;
  listEvents(limit?: number): Promise<EventRecord[]>;
}

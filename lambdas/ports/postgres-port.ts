/** Where a node's PostgreSQL listens, as the controller reaches it (private IP, never DNS). */
export interface NodeEndpoint {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** What a replica streams as when it follows a primary. */
export interface ReplicationTarget {
  /** Host/port the replica connects to (the new primary's private IP and port). */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /**
   * The passfile on the replica's host that holds `user`'s password (written by the host scripts, and by the lab's
   * clone): the conninfo names it, so no password is ever written to the replica's configuration.
   */
  readonly passfile: string;
  /** Physical slot on the new primary (created first, idempotently). */
  readonly slotName: string;
  /** libpq TLS keywords (`sslmode=...`, `sslrootcert=...`) appended to the conninfo, as the host scripts' carry. */
  readonly tlsKeywords?: readonly string[];
}

/** One standby as its primary sees it (pg_stat_replication). */
export interface StandbyInfo {
  readonly name: string;
  readonly state: string;
  readonly syncState: string;
  readonly replayLsn: string | null;
  /** How long its walsender has run, by the primary's clock (now() - backend_start): its unbroken stream (ms). */
  readonly streamingForMs?: number;
}

/** A probe of one node. `ok` is false when the node could not be reached or answered in time. */
export interface ProbeResult {
  readonly node: string;
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly error?: string;
  /** Not ok because the node refused the controller's credentials (it answered: not judged down). */
  readonly authFailed?: boolean;
  /** Not ok because the node failed TLS verification (it answered; nothing was sent to it: not judged down). */
  readonly tlsFailed?: boolean;
  readonly role?: 'primary' | 'replica';
  readonly timeline?: number;
  readonly currentLsn?: string | null;
  readonly receiveLsn?: string | null;
  readonly replayLsn?: string | null;
  /** Replica: its WAL receiver is streaming. */
  readonly streaming?: boolean;
  /** Replica: pg_is_wal_replay_paused(): it receives WAL but applies none (a switchover would wait forever). */
  readonly replayPaused?: boolean;
  /** Replica: host:port it streams from. */
  readonly upstream?: string | null;
  /** Primary: its standbys. */
  readonly standbys?: readonly StandbyInfo[];
  /** Primary: the heartbeat write committed (a hung, full or read-only primary fails it). */
  readonly heartbeatOk?: boolean;
  /** Primary: synchronous_standby_names is set but no standby is sync/quorum: writes block cluster-wide. */
  readonly syncStandbyMissing?: boolean;
  /** Primary: current_setting('synchronous_standby_names'). */
  readonly syncStandbyNames?: string;
}

/** Outcome of a promotion. */
export interface PromoteResult {
  readonly alreadyPrimary: boolean;
  readonly timeline: number;
  readonly lsn: string;
}

/** Everything the controller does to PostgreSQL itself. */
export interface PostgresNodePort {
  /** The hard client-side bound on one probe (ms): how long a probe may take to call a node down. */
  readonly probeDeadlineMs: number;
  /**
   * Never hangs: a dead or stopped node yields ok=false within the probe deadline. `heartbeat: false` reads without
   * writing (an observer's look, e.g. the lab's status): the primary's LSN then moves only with the workload.
   */
  probe(
    node: NodeEndpoint,
    opts?: { heartbeatId?: number; writer?: string; heartbeat?: boolean },
  ): Promise<ProbeResult>;
  /** Idempotent: an existing primary is success. Resolves once the node accepts writes. */
  promote(node: NodeEndpoint, opts?: { timeoutMs?: number }): Promise<PromoteResult>;
  /** Resolves with the replay LSN once it is at or past `lsn`. */
  waitForReplay(node: NodeEndpoint, lsn: string, timeoutMs: number): Promise<string>;
  /** Points a replica at a new primary and verifies it streams on the primary's timeline. */
  repoint(
    replica: NodeEndpoint,
    newPrimary: NodeEndpoint,
    target: ReplicationTarget,
    opts?: {
      timeoutMs?: number;
      /** Asked between polls: a reason to stop waiting before the timeout (RepointFailedError), or null. */
      stopWaiting?: (elapsedMs: number) => Promise<string | null>;
    },
  ): Promise<void>;
  /**
   * Quorum fence: empties the replica's primary_conninfo (a reload stops its WAL receiver) and resolves once no
   * WAL receiver runs. Idempotent; RepointReplicas points it at the new primary afterwards.
   * @returns the upstream host:port it streamed from, or null when it streamed from none.
   */
  detachUpstream(replica: NodeEndpoint, opts?: { timeoutMs?: number }): Promise<string | null>;
  /** Creates a physical slot if missing. */
  ensureSlot(primary: NodeEndpoint, slotName: string): Promise<void>;
  /** Where `timeline` branched off its parent (from the timeline history file): the divergence point at rejoin. */
  timelineSwitchpoint(node: NodeEndpoint, timeline: number): Promise<string | null>;
  /** Runs CHECKPOINT (pg_rewind needs a promoted source's control file to show its new timeline). */
  checkpoint(node: NodeEndpoint): Promise<void>;
  /**
   * ALTER SYSTEM SET synchronous_standby_names and pg_reload_conf() on a primary (onNoSyncStandby degrade and its
   * restore). Idempotent. Resolves once the primary reports the new value.
   */
  setSyncStandbyNames(primary: NodeEndpoint, names: string): Promise<void>;
  /** Terminates every client session (not replication, not itself); returns how many. */
  terminateSessions(node: NodeEndpoint): Promise<number>;
}

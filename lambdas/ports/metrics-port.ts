/** Metrics the alarms and the dashboard read. */
export interface MetricsPort {
  /** 1 when this AZ's probe reached the primary and its heartbeat committed, else 0. */
  primaryReachable(az: string, reachable: boolean): Promise<void>;
  replicaLag(node: string, bytes: number): Promise<void>;
  syncStandbyMissing(missing: boolean): Promise<void>;
  /** How long the primary has had no synchronous standby (s, 0 when it has one): the alarm's high-resolution series. */
  syncStandbyMissingSeconds(seconds: number): Promise<void>;
  /** Writable primaries the lease does not name, as one probe saw them (0 normally). */
  unnamedPrimaries(az: string, count: number): Promise<void>;
  failoverDuration(kind: 'failover' | 'switchover', ms: number): Promise<void>;
  bytesAtRisk(bytes: number): Promise<void>;
  /** 1 per failed or aborted run (the needs-attention alarm). */
  needsAttention(): Promise<void>;
  /** Sends what was recorded since the last flush (once per probe round, once per step); never throws. */
  flush(): Promise<void>;
}

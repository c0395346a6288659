/** Input of the failover/switchover state machine. */
export interface RunInput {
  readonly mode: 'failover' | 'switchover';
  readonly cluster: string;
  readonly target?: string;
  readonly force?: boolean;
  readonly reason: string;
}

/** What a start did. */
export interface StartResult {
  readonly executionArn: string | null;
  /** An execution under this name is running: the decision is already being carried out. */
  readonly alreadyStarted: boolean;
  readonly name: string;
  /** Names tried first whose executions had ended without taking the lease. */
  readonly replaced?: readonly string[];
}

/** Starts the state machine. */
export interface StarterPort {
  /**
   * Starts a run named after the cluster, mode, next epoch and the version (updatedAt) of the lease it was
   * decided on; a duplicate of a running execution is reported, not an error, and a name whose execution
   * ended without taking the lease is replaced by a fresh one.
   */
  start(input: RunInput, nextEpoch: number, leaseVersion?: number): Promise<StartResult>;
}

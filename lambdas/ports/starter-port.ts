/** Input of the failover/switchover state machine. */
export interface RunInput {
  readonly mode: 'failover' | 'switchover';
  readonly cluster: string;
  readonly target?: string;
  readonly force?: boolean;
  readonly reason: string;
}

/** Starts the state machine. */
export interface StarterPort {
  /**
   * Starts a run named after the cluster, mode, next epoch and the version (updatedAt) of the lease it was
   * decided on; a duplicate start is reported, not an error.
   */
  start(
    input: RunInput,
    nextEpoch: number,
    leaseVersion?: number,
  ): Promise<{ executionArn: string | null; alreadyStarted: boolean; name: string }>;
}

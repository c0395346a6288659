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
  /** Starts a run named after the cluster, mode and next epoch; a duplicate start is reported, not an error. */
  start(
    input: RunInput,
    nextEpoch: number,
  ): Promise<{ executionArn: string | null; alreadyStarted: boolean; name: string }>;
}

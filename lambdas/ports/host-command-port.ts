/** The versioned host scripts (infra/host-scripts/<name>.sh), run by SSM (on AWS, and by the lab's SSM service). */
export const HOST_SCRIPTS = [
  'stop-postgres-immediate',
  'stop-postgres-fast',
  'rewind-and-follow',
  'reclone',
  'start-as-replica',
  'start-as-primary',
  'write-passfile',
] as const;

/** One of the host scripts. */
export type HostScript = (typeof HOST_SCRIPTS)[number];

/** What a host command printed. */
export interface HostCommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Bounds of one host command. */
export interface HostRunOptions {
  /** The whole command, delivery included (ms). @default 120000 */
  readonly timeoutMs?: number;
  /**
   * Not picked up by the host's agent within this (ms): HostUnreachableError, and the command is not to run
   * later either (SSM's TimeoutSeconds, at least 30 s). A lost host's agent never picks a command up, so a step
   * that can be re-run later (the rejoin) gives up here instead of waiting out `timeoutMs`. @default timeoutMs
   */
  readonly deliveryTimeoutMs?: number;
}

/** Runs a host script on a node's instance. */
export interface HostCommandPort {
  run(
    node: { name: string; instanceId: string },
    script: HostScript,
    params: Readonly<Record<string, string>>,
    opts?: HostRunOptions,
  ): Promise<HostCommandResult>;
  /**
   * Sends a host script and returns once the command service accepted it, with its id, without waiting for it to
   * run (the fence's stop where the quorum fence stands in for it). The command stays queued for the host's agent up
   * to `deliveryTimeoutMs`. Throws HostUnreachableError when it cannot be sent to the host at all.
   */
  send(
    node: { name: string; instanceId: string },
    script: HostScript,
    params: Readonly<Record<string, string>>,
    opts?: Pick<HostRunOptions, 'deliveryTimeoutMs'>,
  ): Promise<string>;
  /**
   * Waits for a command sent earlier, as `run` waits for its own (the bounds count from now): its result, or
   * HostUnreachableError when the host's agent has not picked it up within `deliveryTimeoutMs`.
   */
  wait(
    node: { name: string; instanceId: string },
    script: HostScript,
    commandId: string,
    opts?: HostRunOptions,
  ): Promise<HostCommandResult>;
  /**
   * Closes every established connection to the node's PostgreSQL port (the fence's second layer), within
   * `timeoutMs`. Throws HostUnreachableError when the command cannot reach the host.
   */
  severConnections(node: { name: string; instanceId: string }, opts?: { timeoutMs?: number }): Promise<number>;
  /**
   * The host's command agent as the command service last heard from it (SSM's PingStatus: `Online`,
   * `ConnectionLost`, `Inactive`); undefined when the service does not list the host (a stopped instance).
   */
  agentStatus?(node: { name: string; instanceId: string }): Promise<string | undefined>;
}

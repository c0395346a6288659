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

/** Runs a host script on a node's instance. */
export interface HostCommandPort {
  run(
    node: { name: string; instanceId: string },
    script: HostScript,
    params: Readonly<Record<string, string>>,
    opts?: { timeoutMs?: number },
  ): Promise<HostCommandResult>;
  /**
   * Closes every established connection to the node's PostgreSQL port (the fence's second layer), within
   * `timeoutMs`. Throws HostUnreachableError when the command cannot reach the host.
   */
  severConnections(node: { name: string; instanceId: string }, opts?: { timeoutMs?: number }): Promise<number>;
}

/** Network fencing of a node through its own security group. */
export interface FencePort {
  /**
   * Saves the group's ingress rules (once: a repeated fence keeps the first,
   * real snapshot) and revokes them all. Idempotent.
   */
  revokeIngress(node: { name: string; securityGroupId: string }, epoch: number): Promise<{ revokedRules: number }>;
  /** True when no ingress rule admits PostgreSQL (tcp 5432 or all traffic). */
  ingressClosed(securityGroupId: string): Promise<boolean>;
  /** Puts back the snapshot's rules and forgets the snapshot. Idempotent. */
  restoreIngress(node: { name: string; securityGroupId: string }): Promise<{ restoredRules: number }>;
  /** EC2's state of the instance (`running`, `stopped`, ...), or undefined when it is not known to EC2. */
  instanceState(instanceId: string): Promise<string | undefined>;
  /**
   * STONITH: StopInstances with Force (a hung guest OS never finishes a clean shutdown). Idempotent: a stopped
   * instance is success. Returns at once; poll `instanceState` for `stopped`.
   */
  stopInstance(instanceId: string): Promise<void>;
}

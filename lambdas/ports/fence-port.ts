import type { IngressRule, RestoreDecision } from '../core/table-checks';
import type { RegisteredNode } from './store-port';

/** Decides which of a fence snapshot's rules may be put back (core restorableIngress against the deploy config). */
export type RestoreDecider = (
  node: RegisteredNode,
  snapshot: { securityGroupId: string; rules: readonly IngressRule[] },
) => RestoreDecision;

/** Network fencing of a node through its own security group. */
export interface FencePort {
  /**
   * Saves the group's ingress rules (once: a repeated fence keeps the first,
   * real snapshot) and revokes them all. Idempotent.
   */
  revokeIngress(node: { name: string; securityGroupId: string }, epoch: number): Promise<{ revokedRules: number }>;
  /** True when no ingress rule admits PostgreSQL (tcp 5432 or all traffic). */
  ingressClosed(securityGroupId: string): Promise<boolean>;
  /**
   * Puts back the snapshot's rules (those `decide` keeps, when given) and forgets the snapshot. Idempotent.
   * @returns how many rules were authorized, and the decision's reason when there was one
   */
  restoreIngress(
    node: { name: string; securityGroupId: string },
    decide?: (snapshot: { securityGroupId: string; rules: readonly IngressRule[] }) => RestoreDecision,
  ): Promise<{ restoredRules: number; reason?: string }>;
  /** EC2's state of the instance (`running`, `stopped`, ...), or undefined when it is not known to EC2. */
  instanceState(instanceId: string): Promise<string | undefined>;
  /**
   * STONITH: StopInstances with Force (a hung guest OS never finishes a clean shutdown). Idempotent: a stopped
   * instance is success. Returns at once; poll `instanceState` for `stopped`.
   */
  stopInstance(instanceId: string): Promise<void>;
}

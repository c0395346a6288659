/**
 * The lease and node-registry items a cluster starts with, built once: the stack's RegistrySeed writes them at first
 * deployment and the lab writes them at every reset, so the two can never seed different shapes (the store adapter
 * reads both with the same code).
 */
import { initialLease } from './lease';
import type { Lease } from './types';

/** One node as a deployment names it. */
export interface SeedNodeSpec {
  readonly name: string;
  readonly instanceId: string;
  readonly az: string;
  readonly privateIp: string;
  readonly port: number;
  readonly securityGroupId: string;
  /** @default false */
  readonly noFailover?: boolean;
  /** Where the controller connects. @default privateIp (the lab: its gate on loopback) */
  readonly host?: string;
  /** Where replicas stream from this node (the lab: its replication gate). @default host/port */
  readonly replicationHost?: string;
  readonly replicationPort?: number;
}

/** A node's registry item at seed time: the spec with its role and status (the store's RegisteredNode). */
export type SeededNode = Omit<SeedNodeSpec, 'host' | 'noFailover'> & {
  readonly host: string;
  readonly role: 'primary' | 'replica';
  readonly status: string;
  readonly noFailover: boolean;
};

/** What {@link registrySeed} builds. */
export interface RegistrySeedItems {
  readonly lease: Lease;
  readonly nodes: readonly SeededNode[];
}

/**
 * The initial lease (epoch 1, steady, naming `initialPrimary`) and one healthy registry item per node, the initial
 * primary's with role primary. `now` is the lease's updatedAt (the stack seeds 0: a template holds no clock).
 * @default reason 'initial'
 */
export function registrySeed(input: {
  readonly initialPrimary: string;
  readonly nodes: readonly SeedNodeSpec[];
  readonly now: number;
  readonly reason?: string;
}): RegistrySeedItems {
  const base = initialLease(input.initialPrimary, input.now);
  return {
    lease: { ...base, reason: input.reason ?? base.reason },
    nodes: input.nodes.map((n) => ({
      name: n.name,
      instanceId: n.instanceId,
      az: n.az,
      privateIp: n.privateIp,
      host: n.host ?? n.privateIp,
      port: n.port,
      ...(n.replicationHost !== undefined ? { replicationHost: n.replicationHost } : {}),
      ...(n.replicationPort !== undefined ? { replicationPort: n.replicationPort } : {}),
      securityGroupId: n.securityGroupId,
      role: n.name === input.initialPrimary ? 'primary' : 'replica',
      status: 'healthy',
      noFailover: n.noFailover ?? false,
    })),
  };
}

import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
  type IpPermission,
  RevokeSecurityGroupIngressCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { RetriableError } from '../../core/errors';
import type { IngressRule, RestoreDecision } from '../../core/table-checks';
import type { FencePort } from '../../ports/fence-port';
import type { StorePort } from '../../ports/store-port';

/** EC2 did not answer or refused: the fence step retries, then aborts. */
export class FenceError extends RetriableError {}

/**
 * True when some permission admits TCP `port` (all traffic, or a TCP range covering it) from at least one
 * source. A permission with no source admits nothing on EC2. The lab's gates enforce this same predicate, so what
 * the fence proves closed is exactly what the lab's network refuses. @default port 5432
 */
export function admitsPostgres(perms: readonly IpPermission[] | undefined, port = 5432): boolean {
  return (perms ?? []).some(
    (p) =>
      (p.IpProtocol === '-1' || (p.IpProtocol === 'tcp' && (p.FromPort ?? 0) <= port && (p.ToPort ?? 65535) >= port)) &&
      Boolean(p.IpRanges?.length || p.Ipv6Ranges?.length || p.PrefixListIds?.length || p.UserIdGroupPairs?.length),
  );
}

/** Removes fields EC2 returns but does not accept back in Authorize. */
function clean(perms: IpPermission[]): IpPermission[] {
  return perms.map((p) => ({
    IpProtocol: p.IpProtocol,
    FromPort: p.FromPort,
    ToPort: p.ToPort,
    IpRanges: p.IpRanges?.length ? p.IpRanges : undefined,
    Ipv6Ranges: p.Ipv6Ranges?.length ? p.Ipv6Ranges : undefined,
    PrefixListIds: p.PrefixListIds?.length ? p.PrefixListIds : undefined,
    UserIdGroupPairs: p.UserIdGroupPairs?.length ? p.UserIdGroupPairs : undefined,
  }));
}

/**
 * Fences a node by emptying its own security group (one group per node, so
 * nothing else is touched; revoke/authorize work in every emulator, unlike
 * swapping groups on the ENI). Revocation stops NEW connections only: EC2
 * connection tracking keeps established ones, so the caller must also sever.
 */
export class Ec2Fence implements FencePort {
  constructor(
    private readonly ec2: EC2Client,
    private readonly store: StorePort,
  ) {}

  private async rules(groupId: string): Promise<IpPermission[]> {
    try {
      const r = await this.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
      const g = r.SecurityGroups?.[0];
      if (!g) throw new FenceError(`security group ${groupId} not found`);
      return g.IpPermissions ?? [];
    } catch (err) {
      if (err instanceof FenceError) throw err;
      throw new FenceError(`describe ${groupId}: ${(err as Error).message}`);
    }
  }

  async revokeIngress(
    node: { name: string; securityGroupId: string },
    epoch: number,
  ): Promise<{ revokedRules: number }> {
    const current = await this.rules(node.securityGroupId);
    // Snapshot before revoking; if one exists (a retried fence), it holds the real rules and is kept.
    await this.store.saveFenceSnapshot({
      node: node.name,
      securityGroupId: node.securityGroupId,
      rules: JSON.stringify(clean(current)),
      epoch,
      fencedAt: Date.now(),
    });
    if (current.length === 0) return { revokedRules: 0 };
    try {
      await this.ec2.send(
        new RevokeSecurityGroupIngressCommand({ GroupId: node.securityGroupId, IpPermissions: clean(current) }),
      );
    } catch (err) {
      throw new FenceError(`revoke ${node.securityGroupId}: ${(err as Error).message}`);
    }
    return { revokedRules: current.length };
  }

  async ingressClosed(securityGroupId: string): Promise<boolean> {
    return !admitsPostgres(await this.rules(securityGroupId));
  }

  async restoreIngress(
    node: { name: string; securityGroupId: string },
    decide?: (snapshot: { securityGroupId: string; rules: readonly IngressRule[] }) => RestoreDecision,
  ): Promise<{ restoredRules: number; reason?: string }> {
    const snap = await this.store.getFenceSnapshot(node.name);
    if (!snap) return { restoredRules: 0 };
    const saved = JSON.parse(snap.rules) as IpPermission[];
    const decision = decide?.({ securityGroupId: snap.securityGroupId, rules: saved as IngressRule[] });
    const wanted = (decision ? decision.restore : saved) as IpPermission[];
    const current = await this.rules(node.securityGroupId);
    const key = (p: IpPermission) => JSON.stringify(clean([p])[0]);
    const have = new Set(current.map(key));
    const missing = wanted.filter((p) => !have.has(key(p)));
    if (missing.length) {
      try {
        await this.ec2.send(
          new AuthorizeSecurityGroupIngressCommand({ GroupId: node.securityGroupId, IpPermissions: missing }),
        );
      } catch (err) {
        throw new FenceError(`authorize ${node.securityGroupId}: ${(err as Error).message}`);
      }
    }
    await this.store.deleteFenceSnapshot(node.name);
    return { restoredRules: missing.length, ...(decision ? { reason: decision.reason } : {}) };
  }

  async instanceState(instanceId: string): Promise<string | undefined> {
    try {
      const r = await this.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
      return r.Reservations?.flatMap((x) => x.Instances ?? []).find((i) => i.InstanceId === instanceId)?.State?.Name;
    } catch (err) {
      if ((err as Error).name === 'InvalidInstanceID.NotFound') return undefined;
      throw new FenceError(`describe ${instanceId}: ${(err as Error).message}`);
    }
  }

  async stopInstance(instanceId: string): Promise<void> {
    try {
      // STONITH must not wait on the guest. Force alone first tries a graceful OS shutdown and powers off only
      // after that times out (EC2 API reference, StopInstances `Force`); SkipOsShutdown bypasses it. Skipping the
      // flush is safe here: PostgreSQL is crash-safe, and the fenced node is rewound or re-cloned before it
      // serves again.
      await this.ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId], Force: true, SkipOsShutdown: true }));
    } catch (err) {
      // A stopped or terminated instance refuses with IncorrectInstanceState: the goal already holds.
      if ((err as Error).name === 'IncorrectInstanceState') return;
      throw new FenceError(`stop ${instanceId}: ${(err as Error).message}`);
    }
  }
}

/**
 * Table items are mutable by anything with write access to the table (a probe can write any item of its cluster):
 * before the controller acts on one, it is checked against the deploy configuration, which only a deployment
 * changes. Two items matter: a node's address (the controller sends its password there) and a fence snapshot (the
 * rejoin re-authorizes its rules on the node's security group).
 */

/** Where a node is reached: the deploy configuration's view, or the NODE# item's. */
export interface NodeAddress {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly replicationHost?: string;
  readonly replicationPort?: number;
  readonly securityGroupId?: string;
}

/** Why the items can be used, or which one cannot and why. */
export type AddressCheck =
  | { readonly ok: true; readonly reason: string }
  | { readonly ok: false; readonly reason: string };

const show = (a: Pick<NodeAddress, 'host' | 'port'>) => `${a.host}:${a.port}`;

/**
 * Compares every registered node's address with the configured one. A node the config does not know, or any
 * difference in host, port, replication host/port or security group, refuses with a reason naming the node and
 * both values. @default a node without replication fields replicates from host/port
 */
export function checkNodeAddresses(configured: readonly NodeAddress[], stored: readonly NodeAddress[]): AddressCheck {
  const byName = new Map(configured.map((c) => [c.name, c]));
  for (const s of stored) {
    const c = byName.get(s.name);
    if (!c) {
      return {
        ok: false,
        reason: `node ${s.name} is in the table (${show(s)}) but not in the deploy config (${[...byName.keys()].join(', ')})`,
      };
    }
    const pairs: [string, string | number | undefined, string | number | undefined][] = [
      ['address', show(c), show(s)],
      [
        'replication address',
        `${c.replicationHost ?? c.host}:${c.replicationPort ?? c.port}`,
        `${s.replicationHost ?? s.host}:${s.replicationPort ?? s.port}`,
      ],
      ['security group', c.securityGroupId, s.securityGroupId],
    ];
    for (const [what, want, got] of pairs) {
      if (want !== undefined && want !== got) {
        return {
          ok: false,
          reason: `node ${s.name}: the table's ${what} ${got ?? '(none)'} differs from the deploy config's ${want}: refusing to connect or act on it`,
        };
      }
    }
  }
  return { ok: true, reason: `${stored.length} node address(es) match the deploy config` };
}

/** One ingress permission of a fence snapshot, in EC2's shape (only the fields a rule's source can be named in). */
export interface IngressRule {
  readonly IpProtocol?: string;
  readonly FromPort?: number;
  readonly ToPort?: number;
  readonly IpRanges?: readonly { readonly CidrIp?: string; readonly Description?: string }[];
  readonly Ipv6Ranges?: readonly { readonly CidrIpv6?: string; readonly Description?: string }[];
  readonly PrefixListIds?: readonly { readonly PrefixListId?: string }[];
  readonly UserIdGroupPairs?: readonly { readonly GroupId?: string; readonly Description?: string }[];
}

/** The sources the deploy config lets a node's security group admit. */
export interface AllowedIngress {
  readonly cidrs: readonly string[];
  readonly securityGroupIds: readonly string[];
}

/** What the rejoin may put back, and what it drops. */
export interface RestoreDecision {
  /** The snapshot's rules cut down to the allowed sources (a rule with none left is dropped). */
  readonly restore: readonly IngressRule[];
  /** One line per dropped source, naming it. */
  readonly refused: readonly string[];
  readonly reason: string;
}

/**
 * Decides which of a fence snapshot's rules the rejoin re-authorizes: only sources the config allows (an exact
 * CIDR or a security group id); IPv6 ranges and prefix lists are never restored (the config cannot list them).
 * A snapshot taken of another group than the node's configured one restores nothing.
 */
export function restorableIngress(opts: {
  readonly node: string;
  readonly configuredGroupId: string;
  readonly snapshotGroupId: string;
  readonly rules: readonly IngressRule[];
  readonly allowed: AllowedIngress;
}): RestoreDecision {
  if (opts.snapshotGroupId !== opts.configuredGroupId) {
    return {
      restore: [],
      refused: [`group ${opts.snapshotGroupId}`],
      reason: `${opts.node}: the fence snapshot names security group ${opts.snapshotGroupId}, the deploy config ${opts.configuredGroupId}: nothing restored`,
    };
  }
  const cidrs = new Set(opts.allowed.cidrs);
  const groups = new Set(opts.allowed.securityGroupIds);
  const refused: string[] = [];
  const restore: IngressRule[] = [];
  for (const r of opts.rules) {
    const ports = r.IpProtocol === '-1' ? 'all traffic' : `${r.IpProtocol} ${r.FromPort}-${r.ToPort}`;
    const ipRanges = (r.IpRanges ?? []).filter((x) => {
      const ok = x.CidrIp !== undefined && cidrs.has(x.CidrIp);
      if (!ok) refused.push(`${ports} from ${x.CidrIp ?? '(no CIDR)'}`);
      return ok;
    });
    const pairs = (r.UserIdGroupPairs ?? []).filter((x) => {
      const ok = x.GroupId !== undefined && groups.has(x.GroupId);
      if (!ok) refused.push(`${ports} from ${x.GroupId ?? '(no group)'}`);
      return ok;
    });
    for (const x of r.Ipv6Ranges ?? []) refused.push(`${ports} from ${x.CidrIpv6 ?? '(no CIDR)'}`);
    for (const x of r.PrefixListIds ?? []) refused.push(`${ports} from ${x.PrefixListId ?? '(no prefix list)'}`);
    if (ipRanges.length || pairs.length) {
      restore.push({
        IpProtocol: r.IpProtocol,
        FromPort: r.FromPort,
        ToPort: r.ToPort,
        ...(ipRanges.length ? { IpRanges: ipRanges } : {}),
        ...(pairs.length ? { UserIdGroupPairs: pairs } : {}),
      });
    }
  }
  const reason = refused.length
    ? `${opts.node}: restoring ${restore.length} rule(s); not restored, the deploy config does not allow them: ${refused.join('; ')}`
    : `${opts.node}: restoring ${restore.length} rule(s), every source allowed by the deploy config`;
  return { restore, refused, reason };
}

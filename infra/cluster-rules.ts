/**
 * The cross-field rules of a cluster's shape, in one place: the cdk.json configuration (infra/config.ts) and the
 * PgQuorumCluster construct's props both check them, each naming the offending field by its own path.
 */

/** A value CDK resolves only at deploy time (a token) is not checked at synth time. */
export type IsUnresolved = (value: unknown) => boolean;

/** The part of a cluster's shape the rules look at; a field that is a token is skipped. */
export interface ClusterShape {
  readonly probeAzs: readonly string[];
  readonly nodes: readonly {
    readonly name: string;
    readonly instanceId: string;
    readonly privateIp: string;
    readonly az: string;
    readonly securityGroupId: string;
  }[];
  readonly initialPrimary: string;
  /** Absent or a token: nodes' addresses are not checked against it. */
  readonly vpcCidr?: string;
  readonly voteTtlMs: number;
  readonly probeIntervalMs: number;
}

/** One broken rule: the field's path under the checked object, and a sentence. */
export interface ClusterIssue {
  readonly path: (string | number)[];
  readonly message: string;
}

/** An IPv4 address as a 32-bit unsigned integer. */
function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

/** True when `ip` lies inside `cidr` (a.b.c.d/n). */
export function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const n = Number(bits);
  if (!(n >= 0 && n <= 32)) return false;
  const size = 2 ** (32 - n);
  return Math.floor(ipToInt(ip) / size) === Math.floor(ipToInt(base!) / size);
}

/** Every broken rule of `c`, in field order; tokens (per `unresolved`) are never compared. */
export function clusterIssues(c: ClusterShape, unresolved: IsUnresolved = () => false): ClusterIssue[] {
  const issues: ClusterIssue[] = [];
  const azs = new Set(c.probeAzs);
  if (!c.probeAzs.some(unresolved) && azs.size !== 3)
    issues.push({ path: ['probeSubnets'], message: 'the three probe subnets must be in three distinct AZs' });
  const names = c.nodes.map((n) => n.name);
  if (!names.includes(c.initialPrimary))
    issues.push({ path: ['initialPrimary'], message: `must be one of ${names.join(', ')}` });
  if (new Set(names).size !== names.length) issues.push({ path: ['nodes'], message: 'node names must be unique' });
  const sgs = c.nodes.map((n) => n.securityGroupId).filter((s) => !unresolved(s));
  if (new Set(sgs).size !== sgs.length)
    issues.push({ path: ['nodes'], message: 'each node needs its own security group' });
  // Per node, so the error names the line: a duplicate instance id or IP would aim an SSM stop at the wrong host.
  for (const field of ['instanceId', 'privateIp'] as const) {
    const first = new Map<string, string>();
    c.nodes.forEach((n, i) => {
      if (unresolved(n[field])) return;
      const seen = first.get(n[field]);
      if (seen !== undefined) {
        issues.push({
          path: ['nodes', i, field],
          message: `${n[field]} is already node ${seen}'s ${field}: each node needs its own`,
        });
      } else first.set(n[field], n.name);
    });
  }
  const cidr = c.vpcCidr;
  const validCidr = cidr !== undefined && !unresolved(cidr) && /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(cidr);
  c.nodes.forEach((n, i) => {
    if (validCidr && !unresolved(n.privateIp) && !inCidr(n.privateIp, cidr)) {
      issues.push({ path: ['nodes', i, 'privateIp'], message: `${n.privateIp} is outside vpcCidr ${cidr}` });
    }
    if (!unresolved(n.az) && !c.probeAzs.some(unresolved) && !azs.has(n.az)) {
      issues.push({
        path: ['nodes', i, 'az'],
        message: `${n.az} is not one of the probe AZs (${[...azs].join(', ')}): no probe would see the node from its own AZ`,
      });
    }
  });
  if (c.voteTtlMs < c.probeIntervalMs) {
    issues.push({
      path: ['thresholds', 'voteTtlMs'],
      message: `${c.voteTtlMs} ms is shorter than probeIntervalMs ${c.probeIntervalMs}: every vote would be stale before the next`,
    });
  }
  return issues;
}

/** `['nodes', 1, 'privateIp']` as `nodes[1].privateIp`. */
export function issuePath(path: readonly (string | number | symbol)[]): string {
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
    .join('.')
    .replace(/\.\[/g, '[');
}

import { z } from 'zod';
import { settingsSchema } from '../lambdas/core/settings';

const ipv4 = z.string().regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, 'Invalid IPv4 address');
const cidr = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'Invalid CIDR');

/** One PostgreSQL node the controller manages. */
export const nodeConfigSchema = z.object({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,30}$/, 'lowercase letters, digits and _ (it is also the replication slot name)'),
  instanceId: z.string().regex(/^i-[0-9a-f]{8,17}$/, 'Invalid EC2 instance id'),
  az: z.string().min(1),
  privateIp: ipv4,
  port: z.number().int().min(1).max(65535).default(5432),
  /** The node's own security group: the fence empties it, so no other instance may share it. */
  securityGroupId: z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'Invalid security group id'),
  noFailover: z.boolean().default(false),
});

/**
 * The deployment's configuration, read from the cdk.json context key
 * `pgquorum`. Validated at synth time; errors name the field path.
 */
export const deployConfigSchema = z
  .object({
    cluster: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'lowercase letters, digits and -'),
    account: z
      .string()
      .regex(/^\d{12}$/)
      .optional(),
    region: z.string().min(1).default('us-east-1'),
    vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, 'Invalid VPC id'),
    vpcCidr: cidr,
    /** One private subnet per AZ for the probes (exactly three distinct AZs). */
    probeSubnets: z
      .array(
        z.object({
          subnetId: z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'Invalid subnet id'),
          az: z.string().min(1),
          routeTableId: z.string().optional(),
        }),
      )
      .length(3, 'exactly three probe subnets, one per AZ'),
    nodes: z.array(nodeConfigSchema).min(2, 'at least a primary and one replica'),
    /** The node that is primary when the stack is first deployed (seeds the lease). */
    initialPrimary: z.string(),
    hostedZoneId: z.string().regex(/^Z[0-9A-Z]{4,32}$/, 'Invalid hosted zone id'),
    zoneName: z.string().min(1),
    writerRecord: z.string().default('writer'),
    readerRecord: z.string().default('reader'),
    recordTtlSec: z.number().int().min(1).max(300).default(5),
    thresholds: settingsSchema.default(settingsSchema.parse({})),
    alarmEmail: z.string().email().optional(),
    /** Existing Secrets Manager secret with the controller's credentials; created when absent. */
    dbSecretArn: z.string().startsWith('arn:').optional(),
    pgdata: z.string().default('/var/lib/postgresql/15/main'),
  })
  .superRefine((c, ctx) => {
    const azs = new Set(c.probeSubnets.map((s) => s.az));
    if (azs.size !== 3)
      ctx.addIssue({
        code: 'custom',
        path: ['probeSubnets'],
        message: 'the three probe subnets must be in three distinct AZs',
      });
    const names = c.nodes.map((n) => n.name);
    if (!names.includes(c.initialPrimary))
      ctx.addIssue({ code: 'custom', path: ['initialPrimary'], message: `must be one of ${names.join(', ')}` });
    if (new Set(names).size !== names.length)
      ctx.addIssue({ code: 'custom', path: ['nodes'], message: 'node names must be unique' });
    const sgs = c.nodes.map((n) => n.securityGroupId);
    if (new Set(sgs).size !== sgs.length)
      ctx.addIssue({ code: 'custom', path: ['nodes'], message: 'each node needs its own security group' });
  });

/** Validated deployment configuration. */
export type DeployConfig = z.infer<typeof deployConfigSchema>;

/** Validates the context value; the error names every bad field by its path under `pgquorum`. */
export function parseDeployConfig(raw: unknown): DeployConfig {
  const r = deployConfigSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map(
      (i) =>
        `pgquorum.${i.path
          .map((p) => (typeof p === 'number' ? `[${p}]` : p))
          .join('.')
          .replace(/\.\[/g, '[')}: ${i.message}`,
    );
    throw new Error(`invalid pgquorum configuration in cdk.json context:\n  ${lines.join('\n  ')}`);
  }
  return r.data;
}

/** Fully qualified record names. */
export function recordNames(c: DeployConfig): { writer: string; reader: string } {
  return { writer: `${c.writerRecord}.${c.zoneName}`, reader: `${c.readerRecord}.${c.zoneName}` };
}

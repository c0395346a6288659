import fs from 'node:fs';
import { z } from 'zod';
import { RECORD_LABELS, recordName } from '../lambdas/core/contract';
import { settingsSchema } from '../lambdas/core/settings';
import { caBundleKind, DB_SSL_MODES, effectiveSslMode, tlsConfigProblems } from '../lambdas/core/tls';
import { clusterIssues, inCidr, issuePath } from './cluster-rules';

const ipv4 = z.string().regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, 'Invalid IPv4 address');
const cidr = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'Invalid CIDR');

/**
 * A data directory the host scripts may interpolate: absolute, only letters,
 * digits and `. _ - /`, no `..` segment. It lands in every SSM document, so a
 * quote or `$` would become shell code run as root on the nodes.
 */
export const SAFE_PATH = /^\/(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._/-]{0,255}$/;

/** True when `ip` lies inside `cidr` (a.b.c.d/n). */
export { inCidr } from './cluster-rules';

/** One PostgreSQL node the controller manages. */
export const nodeConfigSchema = z.object({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,30}$/, 'lowercase letters, digits and _ (it is also the replication slot name)')
    .describe('Node name; also its replication slot and application_name.'),
  instanceId: z
    .string()
    .regex(/^i-[0-9a-f]{8,17}$/, 'Invalid EC2 instance id')
    .describe('EC2 instance id (host commands go to it through SSM).'),
  az: z.string().min(1).describe('Availability zone of the node.'),
  privateIp: ipv4.describe(
    'Private IP: the controller connects here (never through DNS); the writer record points here.',
  ),
  port: z.number().int().min(1).max(65535).default(5432).describe('PostgreSQL port.'),
  /** The fence empties this group, so no other instance may share it. */
  securityGroupId: z
    .string()
    .regex(/^sg-[0-9a-f]{8,17}$/, 'Invalid security group id')
    .describe("The node's own security group (the fence revokes its ingress)."),
  subnetId: z
    .string()
    .regex(/^subnet-[0-9a-f]{8,17}$/, 'Invalid subnet id')
    .optional()
    .describe('Subnet of the node (documentation and operator tooling; the controller addresses the node by IP).'),
  noFailover: z.boolean().default(false).describe('Never promote this node (say, a reporting replica).'),
  tlsServerName: z
    .string()
    .regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/, 'a DNS host name')
    .optional()
    .describe(
      "Host name the node's certificate carries, checked under verify-full instead of privateIp (without it the certificate needs an IP SAN of privateIp); the controller still connects to privateIp.",
    ),
});

/**
 * The deployment's configuration, read from the cdk.json context key
 * `pgquorum`. Validated at synth time; errors name the field path.
 */
export const deployConfigSchema = z
  .object({
    cluster: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,30}$/, 'lowercase letters, digits and -')
      .describe('Cluster name: names the stack, the SSM documents and the DynamoDB partition.'),
    account: z
      .string()
      .regex(/^\d{12}$/)
      .optional()
      .describe('AWS account (optional: the CLI environment is used otherwise).'),
    region: z.string().min(1).default('us-east-1').describe('AWS region.'),
    vpcId: z
      .string()
      .regex(/^vpc-[0-9a-f]{8,17}$/, 'Invalid VPC id')
      .describe('VPC of the nodes.'),
    vpcCidr: cidr.describe('VPC CIDR (controller egress to PostgreSQL and the endpoints).'),
    probeSubnets: z
      .array(
        z.object({
          subnetId: z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'Invalid subnet id'),
          az: z.string().min(1),
          routeTableId: z
            .string()
            .regex(/^rtb-[0-9a-f]{8,17}$/, 'Invalid route table id')
            .optional()
            .describe('Route table of the subnet: the DynamoDB gateway endpoint is attached to it.'),
        }),
      )
      .length(3, 'exactly three probe subnets, one per AZ')
      .describe('Exactly three private subnets in three distinct AZs: one probe runs in each.'),
    nodes: z
      .array(nodeConfigSchema)
      .min(2, 'at least a primary and one replica')
      .describe('The PostgreSQL nodes (see below).'),
    initialPrimary: z
      .string()
      .describe('The node that is primary at first deployment (seeds the lease; never reset by a redeploy).'),
    hostedZoneId: z
      .string()
      .regex(/^Z[0-9A-Z]{4,32}$/, 'Invalid hosted zone id')
      .describe('Route 53 private hosted zone id.'),
    zoneName: z.string().min(1).describe('Its domain name.'),
    writerRecord: z
      .string()
      .default(RECORD_LABELS.writer)
      .describe('Label of the writer record (`writer.<zoneName>`).'),
    readerRecord: z.string().default(RECORD_LABELS.reader).describe('Label of the reader record.'),
    recordTtlSec: z
      .number()
      .int()
      .min(1)
      .max(300)
      .default(5)
      .describe('TTL of both records (s): clients re-resolve this fast after a flip.'),
    thresholds: settingsSchema.default(settingsSchema.parse({})).describe('Controller thresholds (see below).'),
    alarmEmail: z.string().email().optional().describe('Subscribed to the alarm topic when set.'),
    dbSecretArn: z
      .string()
      .startsWith('arn:')
      .optional()
      .describe(
        "The controller's existing secret {username, password}, by ARN; created when neither this nor dbSecretName is set. The hosts cannot read it.",
      ),
    dbSecretName: z
      .string()
      .regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/, 'Invalid secret name')
      .optional()
      .describe('The same existing secret, by name (instead of dbSecretArn).'),
    hostSecretArn: z
      .string()
      .startsWith('arn:')
      .optional()
      .describe(
        "The hosts' existing secret {replicationPassword, rewindPassword}, by ARN: all the host scripts read; created when neither this nor hostSecretName is set.",
      ),
    hostSecretName: z
      .string()
      .regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/, 'Invalid secret name')
      .optional()
      .describe("The hosts' existing secret, by name (instead of hostSecretArn)."),
    allowedIngress: z
      .object({
        cidrs: z.array(cidr).optional().describe('CIDRs a rejoin may re-authorize on a node (default: vpcCidr alone).'),
        securityGroupIds: z
          .array(z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'Invalid security group id'))
          .default([])
          .describe('Security groups a rejoin may re-authorize as sources on a node.'),
      })
      .default({ securityGroupIds: [] })
      .describe(
        "The ingress sources a rejoin may put back on a fenced node's security group: a fence snapshot's rule with any other source (a tampered table item) is not restored.",
      ),
    replicationUser: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a PostgreSQL role name of lower-case letters, digits and _')
      .default('replicator')
      .describe('The REPLICATION role replicas stream as and pg_basebackup copies as.'),
    rewindUser: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a PostgreSQL role name of lower-case letters, digits and _')
      .default('pgquorum_rewind')
      .describe(
        "The role pg_rewind reads the new primary as (EXECUTE on pg_rewind's four file functions, no superuser).",
      ),
    createVpcEndpoints: z
      .boolean()
      .default(true)
      .describe(
        'Create the endpoints the in-VPC functions need (a DynamoDB gateway; interface endpoints for SSM, Step Functions, Secrets Manager, EC2, SNS). Set false when the VPC already has them with private DNS (a second one conflicts).',
      ),
    pgdata: z
      .string()
      .regex(SAFE_PATH, 'an absolute path of letters, digits and . _ - / only (it is interpolated into host scripts)')
      .default('/var/lib/postgresql/15/main')
      .describe('Data directory on the nodes (host scripts).'),
    dbSslMode: z
      .enum(DB_SSL_MODES)
      .optional()
      .describe(
        'TLS of every connection to the nodes (functions, probes, CLI, replication, pg_rewind, pg_basebackup), as libpq means it. Default: verify-full when dbCaBundle is given, else require.',
      ),
    dbCaBundle: z
      .string()
      .min(1)
      .optional()
      .describe(
        "CA bundle the nodes' certificates chain to: a PEM file (path relative to the CDK app, bundled with the functions and published to the hosts as an SSM parameter), or the ARN of a Secrets Manager secret or SSM parameter holding the PEM.",
      ),
    dbHostCaFile: z
      .string()
      .regex(SAFE_PATH, 'an absolute path of letters, digits and . _ - / only (it is interpolated into host scripts)')
      .default('/etc/pgquorum/db-ca.pem')
      .describe(
        "Where the CA bundle lives on each node (the conninfo's sslrootcert); the host scripts write it from dbCaBundle's parameter or secret when it is missing.",
      ),
  })
  .superRefine((c, ctx) => {
    if (c.dbSecretArn && c.dbSecretName)
      ctx.addIssue({ code: 'custom', path: ['dbSecretName'], message: 'give dbSecretArn or dbSecretName, not both' });
    if (c.hostSecretArn && c.hostSecretName)
      ctx.addIssue({
        code: 'custom',
        path: ['hostSecretName'],
        message: 'give hostSecretArn or hostSecretName, not both',
      });
    // One secret for both would hand the hosts the controller's password (IAM grants a whole secret, not a key).
    const same = (a?: string, b?: string) => a !== undefined && a === b;
    if (same(c.dbSecretArn, c.hostSecretArn) || same(c.dbSecretName, c.hostSecretName))
      ctx.addIssue({
        code: 'custom',
        path: ['hostSecretArn'],
        message: "must differ from the controller's secret: the hosts may not read the controller's password",
      });
    // The fence snapshot's restore admits only these: a source wider than the VPC would open the node to it.
    (c.allowedIngress.cidrs ?? []).forEach((a, i) => {
      const [base, bits] = a.split('/');
      if (
        /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(c.vpcCidr) &&
        !(inCidr(base!, c.vpcCidr) && Number(bits) >= Number(c.vpcCidr.split('/')[1]))
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['allowedIngress', 'cidrs', i],
          message: `${a} is not inside vpcCidr ${c.vpcCidr}: a rejoin would open the node to addresses outside the VPC`,
        });
      }
    });
    if (c.replicationUser === c.rewindUser)
      ctx.addIssue({ code: 'custom', path: ['rewindUser'], message: 'must differ from replicationUser' });
    const shape = {
      probeAzs: c.probeSubnets.map((s) => s.az),
      nodes: c.nodes,
      initialPrimary: c.initialPrimary,
      vpcCidr: c.vpcCidr,
      voteTtlMs: c.thresholds.voteTtlMs,
      probeIntervalMs: c.thresholds.probeIntervalMs,
    };
    for (const issue of clusterIssues(shape)) ctx.addIssue({ code: 'custom', ...issue });
    for (const p of tlsConfigProblems(c.dbSslMode, c.dbCaBundle)) {
      ctx.addIssue({ code: 'custom', path: [p.field === 'sslMode' ? 'dbSslMode' : 'dbCaBundle'], message: p.message });
    }
    if (c.dbCaBundle && caBundleKind(c.dbCaBundle) === 'file') {
      let pem = '';
      try {
        pem = fs.readFileSync(c.dbCaBundle, 'utf8');
      } catch (err) {
        ctx.addIssue({
          code: 'custom',
          path: ['dbCaBundle'],
          message: `cannot read ${c.dbCaBundle}: ${(err as Error).message}`,
        });
      }
      if (pem && !pem.includes('-----BEGIN CERTIFICATE-----'))
        ctx.addIssue({ code: 'custom', path: ['dbCaBundle'], message: `${c.dbCaBundle} holds no PEM certificate` });
    }
  });

/** Validated deployment configuration. */
export type DeployConfig = z.infer<typeof deployConfigSchema>;

/** Validates the context value; the error names every bad field by its path under `pgquorum`. */
export function parseDeployConfig(raw: unknown): DeployConfig {
  const r = deployConfigSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `pgquorum.${issuePath(i.path)}: ${i.message}`);
    throw new Error(`invalid pgquorum configuration in cdk.json context:\n  ${lines.join('\n  ')}`);
  }
  return r.data;
}

/** The TLS mode the deployment's connections use (dbSslMode, or its default given dbCaBundle). */
export function deploySslMode(c: DeployConfig): (typeof DB_SSL_MODES)[number] {
  return effectiveSslMode(c.dbSslMode, !!c.dbCaBundle);
}

/** Fully qualified record names. */
export function recordNames(c: DeployConfig): { writer: string; reader: string } {
  return { writer: recordName(c.writerRecord, c.zoneName), reader: recordName(c.readerRecord, c.zoneName) };
}

/**
 * A record name as Route 53's `route53:ChangeResourceRecordSetsNormalizedRecordNames` condition key compares it:
 * lower case, no trailing dot, and every character but a-z, 0-9, `-`, `_` and the label dots written as a
 * backslash and three octal digits (`*` is `\052`). A value not normalized so never matches, and the grant
 * would silently deny every flip.
 */
export function normalizedRecordName(name: string): string {
  return [...name.toLowerCase().replace(/\.$/, '')]
    .map((ch) => (/[a-z0-9_.-]/.test(ch) ? ch : `\\${ch.charCodeAt(0).toString(8).padStart(3, '0')}`))
    .join('');
}

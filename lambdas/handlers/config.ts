import { z } from 'zod';
import { ValidationError } from '../core/errors';
import { type ControllerSettings, settingsSchema } from '../core/settings';
import { DB_SSL_MODES, type DbSslMode, effectiveSslMode, tlsConfigProblems } from '../core/tls';

const json = <T extends z.ZodTypeAny>(schema: T) =>
  z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);

/**
 * Every handler's configuration, from its environment (set by the CDK stack,
 * or by the lab deployer for the emulator). Validated once per container.
 */
export const runtimeConfigSchema = z.object({
  PGQ_CLUSTER: z.string().min(1),
  PGQ_TABLE: z.string().min(1),
  PGQ_ZONE_ID: z.string().min(1),
  PGQ_WRITER_RECORD: z.string().min(1),
  PGQ_READER_RECORD: z.string().min(1),
  PGQ_RECORD_TTL: z.coerce.number().int().min(1).max(3600).default(5),
  PGQ_STATE_MACHINE_ARN: z.string().optional(),
  PGQ_TOPIC_ARN: z.string().optional(),
  /** Controller thresholds as JSON (defaults when absent). */
  PGQ_SETTINGS: json(settingsSchema).optional(),
  /** Secrets Manager secret with the controller's {username, password} (and the other roles' names). */
  PGQ_DB_SECRET_ARN: z.string().optional(),
  /**
   * `none`: this function never connects to PostgreSQL, so it reads no credentials (the stack grants it no right to
   * the secret); a call that would connect fails with a FatalError naming the function's missing access.
   * @default 'credentials'
   */
  PGQ_DB_ACCESS: z.enum(['credentials', 'none']).default('credentials'),
  /** Direct credentials (the lab); ignored when the secret is configured. */
  PGQ_DB_USER: z.string().optional(),
  PGQ_DB_PASSWORD: z.string().optional(),
  PGQ_REPL_USER: z.string().optional(),
  PGQ_REPL_PASSWORD: z.string().optional(),
  /** The role pg_rewind connects as (a name only: the password is in the host secret, read by the hosts). */
  PGQ_REWIND_USER: z.string().optional(),
  /**
   * Secret with {replicationUsername, replicationPassword, rewindUsername, rewindPassword}: what the host scripts
   * read with the instance role (sent as SECRET_ID). The controller never reads it: it names the secret only.
   */
  PGQ_HOST_SECRET_ARN: z.string().optional(),
  PGQ_DB_NAME: z.string().default('postgres'),
  /** TLS to the nodes (libpq's modes). Default: verify-full when PGQ_DB_CA_BUNDLE is set, else require. */
  PGQ_DB_SSL_MODE: z.enum(DB_SSL_MODES).optional(),
  /** The CA bundle: a PEM file (absolute, or relative to the function's bundle) or a secret / SSM parameter ARN. */
  PGQ_DB_CA_BUNDLE: z.string().min(1).optional(),
  /** Per-node TLS server names ({node: host name}) checked under verify-full instead of the node's IP address. */
  PGQ_NODE_TLS_NAMES: json(z.record(z.string(), z.string().min(1))).optional(),
  /** The CA file on the nodes (the host-side conninfo's sslrootcert). @default '/etc/pgquorum/db-ca.pem' */
  PGQ_HOST_CA_FILE: z.string().default('/etc/pgquorum/db-ca.pem'),
  /** `emf` (log lines CloudWatch turns into metrics, no API call) on AWS; `api` (PutMetricData) where logs are not mined (the lab). */
  PGQ_METRICS_SINK: z.enum(['emf', 'api']).default('emf'),
  PGQ_SSM_DOCUMENT_PREFIX: z.string().default('pgquorum'),
  PGQ_PGDATA: z.string().default('/var/lib/postgresql/15/main'),
  PGQ_PGBIN: z.string().default('/usr/lib/postgresql/15/bin'),
  /**
   * The passfile on every node that holds the replication and rewind passwords (written by the host scripts'
   * write_passfile): `primary_conninfo` names it instead of carrying a password. A relative path is resolved from
   * the data directory (a walreceiver's working directory).
   * @default `<dirname of PGQ_PGDATA>/.pgpass-pgquorum`, where infra/host-scripts/common.sh writes it
   */
  PGQ_PASSFILE: z.string().min(1).optional(),
  /** Probe: its AZ, and per-AZ address overrides (the lab routes each AZ through its own gate path). */
  PGQ_AZ: z.string().optional(),
  PGQ_NODE_ADDRESS_OVERRIDES: json(z.record(z.string(), z.string().regex(/^[^:]+:\d+$/))).optional(),
  /**
   * The nodes as the deploy config has them ({name, host, port, replicationHost?, replicationPort?,
   * securityGroupId}): a NODE# table item that says otherwise is refused (a FatalError naming both values).
   */
  PGQ_NODES: json(
    z.array(
      z.object({
        name: z.string().min(1),
        host: z.string().min(1),
        port: z.number().int().min(1).max(65535),
        replicationHost: z.string().min(1).optional(),
        replicationPort: z.number().int().min(1).max(65535).optional(),
        securityGroupId: z.string().min(1).optional(),
      }),
    ),
  ).optional(),
  /** The ingress sources a rejoin may put back from a fence snapshot ({cidrs, securityGroupIds}). */
  PGQ_ALLOWED_INGRESS: json(
    z.object({ cidrs: z.array(z.string().min(1)), securityGroupIds: z.array(z.string().min(1)).default([]) }),
  ).optional(),
  /** The probe AZs, comma-separated (default: one per AZ the nodes live in). */
  PGQ_PROBE_AZS: z.string().optional(),
  /** Probe: how long one invocation keeps looping (just under the schedule period). */
  PGQ_PROBE_RUN_MS: z.coerce.number().int().min(0).default(55000),
});

/** Parsed runtime configuration. */
export type RuntimeConfig = z.infer<typeof runtimeConfigSchema> & {
  settings: ControllerSettings;
  /** PGQ_DB_SSL_MODE, or its default given PGQ_DB_CA_BUNDLE. */
  sslMode: DbSslMode;
};

/** Validates the environment; the error lists every missing or bad variable by name. */
export function loadRuntimeConfig(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  const r = runtimeConfigSchema.safeParse(env);
  if (!r.success) {
    throw new ValidationError(
      `invalid pgquorum configuration: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const c = r.data;
  if (c.PGQ_DB_ACCESS === 'credentials' && !c.PGQ_DB_SECRET_ARN && !(c.PGQ_DB_USER && c.PGQ_DB_PASSWORD)) {
    throw new ValidationError(
      'invalid pgquorum configuration: set PGQ_DB_SECRET_ARN, or PGQ_DB_USER and PGQ_DB_PASSWORD',
    );
  }
  const tls = tlsConfigProblems(c.PGQ_DB_SSL_MODE, c.PGQ_DB_CA_BUNDLE);
  if (tls.length) {
    throw new ValidationError(
      `invalid pgquorum configuration: ${tls.map((p) => `${p.field === 'sslMode' ? 'PGQ_DB_SSL_MODE' : 'PGQ_DB_CA_BUNDLE'}: ${p.message}`).join('; ')}`,
    );
  }
  return {
    ...c,
    settings: c.PGQ_SETTINGS ?? settingsSchema.parse({}),
    sslMode: effectiveSslMode(c.PGQ_DB_SSL_MODE, !!c.PGQ_DB_CA_BUNDLE),
  };
}

/** The passfile `primary_conninfo` names on a replica (see PGQ_PASSFILE). */
export function hostPassfile(c: Pick<RuntimeConfig, 'PGQ_PASSFILE' | 'PGQ_PGDATA'>): string {
  if (c.PGQ_PASSFILE) return c.PGQ_PASSFILE;
  const dir = c.PGQ_PGDATA.replace(/\/+$/, '').replace(/\/[^/]*$/, '') || '/';
  return `${dir === '/' ? '' : dir}/.pgpass-pgquorum`;
}

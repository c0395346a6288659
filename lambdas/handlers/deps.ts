import { Logger } from '@aws-lambda-powertools/logger';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { readCaBundle } from '../adapters/aws/ca-bundle';
import { type AwsClients, makeClients } from '../adapters/aws/clients';
import { CloudWatchMetrics, EmfMetrics } from '../adapters/aws/cloudwatch-metrics';
import { DynamoStore } from '../adapters/aws/dynamo-store';
import { Ec2Fence } from '../adapters/aws/ec2-fence';
import { Route53Dns } from '../adapters/aws/route53-dns';
import { SfnStarter } from '../adapters/aws/sfn-starter';
import { SsmHostCommands } from '../adapters/aws/ssm-host-commands';
import { PgNodeAdapter, parsePgConfig, pgSsl } from '../adapters/postgres/pg-node-adapter';
import { FatalError, ValidationError } from '../core/errors';
import {
  type AllowedIngress,
  checkNodeAddresses,
  type IngressRule,
  type NodeAddress,
  type RestoreDecision,
  restorableIngress,
} from '../core/table-checks';

/** pg_controldata parsing for the switchover's stop step (re-exported: handlers reach adapters only through here). */
export { parseControlData } from '../adapters/postgres/control-data';
/** A node's PostgreSQL did not answer (re-exported for the re-point, which tells it from a replica not streaming). */
export { NodeUnreachableError } from '../adapters/postgres/errors';

import type { DnsPort } from '../ports/dns-port';
import type { FencePort, RestoreDecider } from '../ports/fence-port';
import type { HostCommandPort } from '../ports/host-command-port';
import type { MetricsPort } from '../ports/metrics-port';
import type { PostgresNodePort } from '../ports/postgres-port';
import type { StarterPort } from '../ports/starter-port';
import type { RegisteredNode, StorePort } from '../ports/store-port';
import { loadRuntimeConfig, type RuntimeConfig } from './config';

/** Replication credentials replicas stream with. */
export interface ReplCredentials {
  user: string;
  password: string;
}

/** Everything a handler acts through: ports, not SDKs, so tests can substitute any of them. */
export interface Deps {
  config: RuntimeConfig;
  log: Logger;
  store: StorePort;
  pg: PostgresNodePort;
  fence: FencePort;
  dns: DnsPort;
  metrics: MetricsPort;
  host: HostCommandPort;
  starter: StarterPort | undefined;
  repl: ReplCredentials;
  /** How the rejoin filters a fence snapshot's rules (undefined: restore them as saved, an older deployment). */
  restoreRule?: RestoreDecider;
  /** The controller's own database credentials. */
  db: ReplCredentials;
  /** The role pg_rewind reads the new primary as (its password lives in the hosts' passfile only). */
  rewind: { user: string };
  notify(subject: string, message: string): Promise<void>;
  now(): number;
}

interface DbSecret {
  username: string;
  password: string;
  replicationUsername?: string;
  replicationPassword?: string;
  rewindUsername?: string;
}

/** A function without database access (PGQ_DB_ACCESS=none) holds no credentials; these stand in, never sent. */
const NO_CREDENTIALS: DbSecret = { username: 'none', password: 'none' };

async function credentials(config: RuntimeConfig): Promise<DbSecret> {
  if (config.PGQ_DB_ACCESS === 'none') return NO_CREDENTIALS;
  if (!config.PGQ_DB_SECRET_ARN) {
    const { PGQ_DB_USER: username, PGQ_DB_PASSWORD: password } = config;
    // loadRuntimeConfig refuses this already; a config built some other way must not connect as `undefined`.
    if (!username || !password) {
      throw new FatalError('no database credentials: set PGQ_DB_SECRET_ARN, or PGQ_DB_USER and PGQ_DB_PASSWORD');
    }
    return {
      username,
      password,
      replicationUsername: config.PGQ_REPL_USER,
      replicationPassword: config.PGQ_REPL_PASSWORD,
    };
  }
  const sm = new SecretsManagerClient({});
  const r = await sm.send(new GetSecretValueCommand({ SecretId: config.PGQ_DB_SECRET_ARN }));
  const s = JSON.parse(r.SecretString ?? '{}') as Partial<DbSecret>;
  if (!s.username || !s.password) {
    throw new ValidationError(`secret ${config.PGQ_DB_SECRET_ARN} lacks username/password`);
  }
  return s as DbSecret;
}

/**
 * The PostgreSQL port of a function without database access: every call fails before any connection is made (so
 * no stand-in credential is ever sent), naming what is missing; plain values (deadlines) pass through.
 */
export function withoutDatabase(pg: PostgresNodePort): PostgresNodePort {
  return new Proxy(pg, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      return () =>
        Promise.reject(
          new FatalError(
            `${String(prop)} needs a database connection, and this function has none (PGQ_DB_ACCESS=none): its TaskSpec must list 'postgres'`,
          ),
        );
    },
  });
}

/**
 * The store with its node registry checked against the deploy config (PGQ_NODES): the controller connects, with its
 * password, only where the config says a node is. Without a configured list (an older deployment) it is unchanged.
 */
export function checkedStore(store: StorePort, configured: readonly NodeAddress[] | undefined): StorePort {
  if (!configured) return store;
  return new Proxy(store, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (prop !== 'listNodes' || typeof v !== 'function') return typeof v === 'function' ? v.bind(target) : v;
      return async () => {
        const nodes = (await v.call(target)) as RegisteredNode[];
        const check = checkNodeAddresses(configured, nodes);
        if (!check.ok) throw new FatalError(check.reason);
        return nodes;
      };
    },
  });
}

/** The rejoin's rule for a fence snapshot (restorableIngress against PGQ_ALLOWED_INGRESS), or none when unset. */
export function restoreDecider(
  allowed: AllowedIngress | undefined,
  configured: readonly NodeAddress[] | undefined,
): RestoreDecider | undefined {
  if (!allowed) return undefined;
  return (node: RegisteredNode, snap: { securityGroupId: string; rules: readonly IngressRule[] }): RestoreDecision =>
    restorableIngress({
      node: node.name,
      configuredGroupId: configured?.find((c) => c.name === node.name)?.securityGroupId ?? node.securityGroupId,
      snapshotGroupId: snap.securityGroupId,
      rules: snap.rules,
      allowed,
    });
}

/** Builds the real dependencies from the environment. */
export async function buildDeps(
  env: NodeJS.ProcessEnv = process.env,
  clients: AwsClients = makeClients(),
): Promise<Deps> {
  const config = loadRuntimeConfig(env);
  const log = new Logger({ serviceName: 'pgquorum', persistentKeys: { cluster: config.PGQ_CLUSTER } });
  const creds = await credentials(config);
  // A function without database access never connects, so it needs no CA either.
  // A relative file is one the stack copied into the function's bundle (LAMBDA_TASK_ROOT).
  const ca =
    config.PGQ_DB_ACCESS === 'none' || !config.PGQ_DB_CA_BUNDLE
      ? undefined
      : await readCaBundle(config.PGQ_DB_CA_BUNDLE, 'PGQ_DB_CA_BUNDLE', process.env.LAMBDA_TASK_ROOT);
  const store = checkedStore(new DynamoStore(clients.ddb, config.PGQ_TABLE, config.PGQ_CLUSTER), config.PGQ_NODES);
  const adapter = new PgNodeAdapter(
    parsePgConfig({
      user: creds.username,
      password: creds.password,
      database: config.PGQ_DB_NAME,
      ssl: pgSsl(config.sslMode, ca, config.PGQ_NODE_TLS_NAMES),
    }),
    // A container lives for hours: after a rotation its cached password is refused, so a refusal reads the
    // secret again (the adapter bounds how often). Credentials from the environment cannot change.
    config.PGQ_DB_SECRET_ARN && config.PGQ_DB_ACCESS !== 'none'
      ? {
          refreshCredentials: async () => {
            const s = await credentials(config);
            return { user: s.username, password: s.password };
          },
        }
      : {},
  );
  const pg = config.PGQ_DB_ACCESS === 'none' ? withoutDatabase(adapter) : adapter;
  const host: HostCommandPort = new SsmHostCommands(
    clients.ssm,
    config.PGQ_SSM_DOCUMENT_PREFIX,
    // The hosts read the replication and rewind passwords from their own secret; never the controller's.
    config.PGQ_HOST_SECRET_ARN,
  );
  const sns = config.PGQ_TOPIC_ARN ? new SNSClient({}) : undefined;
  return {
    config,
    log,
    store,
    pg,
    fence: new Ec2Fence(clients.ec2, store),
    dns: new Route53Dns(clients.r53, config.PGQ_ZONE_ID, config.PGQ_RECORD_TTL),
    metrics:
      config.PGQ_METRICS_SINK === 'api'
        ? new CloudWatchMetrics(clients.cw, config.PGQ_CLUSTER)
        : new EmfMetrics(config.PGQ_CLUSTER),
    host,
    starter: config.PGQ_STATE_MACHINE_ARN ? new SfnStarter(clients.sfn, config.PGQ_STATE_MACHINE_ARN) : undefined,
    repl: {
      user: config.PGQ_REPL_USER ?? creds.replicationUsername ?? creds.username,
      password: creds.replicationPassword ?? creds.password,
    },
    db: { user: creds.username, password: creds.password },
    restoreRule: restoreDecider(config.PGQ_ALLOWED_INGRESS, config.PGQ_NODES),
    rewind: { user: config.PGQ_REWIND_USER ?? creds.rewindUsername ?? creds.username },
    async notify(subject, message) {
      if (!sns) return;
      await sns
        .send(new PublishCommand({ TopicArn: config.PGQ_TOPIC_ARN, Subject: subject.slice(0, 99), Message: message }))
        .catch((err: Error) => log.warn('notification failed', { error: err.message }));
    },
    now: () => Date.now(),
  };
}

let cached: Promise<Deps> | undefined;

/** The container's dependencies, built once (Lambda reuses containers between invocations). */
export function deps(): Promise<Deps> {
  cached ??= buildDeps().catch((err) => {
    cached = undefined;
    throw err;
  });
  return cached;
}

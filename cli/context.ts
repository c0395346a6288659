import fs from 'node:fs';
import path from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { type FunctionConfiguration, LambdaClient, paginateListFunctions } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { readCaBundle } from '../lambdas/adapters/aws/ca-bundle';
import { type AwsClients, makeClients } from '../lambdas/adapters/aws/clients';
import { DynamoStore } from '../lambdas/adapters/aws/dynamo-store';
import { Ec2Fence } from '../lambdas/adapters/aws/ec2-fence';
import { Route53Dns } from '../lambdas/adapters/aws/route53-dns';
import { type PgConfig, PgNodeAdapter, parsePgConfig, pgSsl } from '../lambdas/adapters/postgres/pg-node-adapter';
import { type ControllerSettings, DEFAULT_SETTINGS, settingsSchema } from '../lambdas/core/settings';
import { effectiveSslMode, verifiesServer } from '../lambdas/core/tls';
import { EnvironmentError, UsageError } from './errors';
import {
  type DescribeStacksClient,
  parseOutputsFile,
  readStackOutputs,
  SDK_ENVIRONMENT_OUTPUT,
  STACK_OUTPUTS,
  type StackOutputKey,
} from './stack-outputs';

/** Options every command accepts (commander's global options). */
export interface GlobalOptions {
  cluster?: string;
  table?: string;
  stateMachineArn?: string;
  zoneId?: string;
  writerRecord?: string;
  readerRecord?: string;
  profile?: string;
  region?: string;
  /** A deployed pgquorum stack: everything else is read from its outputs. */
  stack?: string;
  /** A file of stack outputs in `cdk deploy --outputs-file` shape (`--stack` picks one of several stacks). */
  outputs?: string;
  /** The local lab: sugar for `--outputs <the lab's outputs.json>`. */
  lab?: boolean;
}

/** Where the controller of one cluster lives, however it was found. */
export interface Target {
  readonly kind: 'lab' | 'aws';
  readonly cluster: string;
  readonly table: string;
  readonly zoneId?: string;
  readonly writerRecord?: string;
  readonly readerRecord?: string;
  readonly stateMachineArn?: string;
  /** Deployed task functions by task name (`validate-input`, `rejoin-old-primary`, ...), when known. */
  readonly functions: Readonly<Record<string, string>>;
  readonly settings: ControllerSettings;
  /** How each setting was found (for `status --json` and error messages). */
  readonly discovery: readonly string[];
  /** The controller's database secret, when known (stack output). */
  readonly dbSecretArn?: string;
  /** How the controller connects to the nodes (stack output DbSslMode). @default 'require' */
  readonly dbSslMode?: DbSslMode;
  /** The CA the nodes' certificates chain to (stack output DbCaBundle: a secret or parameter ARN, or a file). */
  readonly dbCaBundle?: string;
  /**
   * The name each node's certificate carries where it is not the node's address (stack output NodeTlsNames, the
   * functions' PGQ_NODE_TLS_NAMES): verify-full checks it, as the functions do. @default none
   */
  readonly nodeTlsNames?: Readonly<Record<string, string>>;
}

/**
 * NodeTlsNames / PGQ_NODE_TLS_NAMES: a JSON object of node name to certificate name. A malformed value is said in
 * the discovery lines and left out: the CLI then verifies by address, and a node whose certificate names only its
 * DNS name fails verify-full with a NodeTlsError that names the node.
 */
export function parseNodeTlsNames(
  raw: string | undefined,
  source: string,
  discovery: string[],
): Readonly<Record<string, string>> | undefined {
  if (!raw || raw === 'none') return undefined;
  try {
    const v = JSON.parse(raw) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string' && x)) {
      return Object.keys(v).length ? (v as Record<string, string>) : undefined;
    }
  } catch {
    // said below
  }
  discovery.push(`${source} is not a JSON object of node name to certificate name: verifying the nodes by address`);
  return undefined;
}

/** TLS modes of a connection to a node, as libpq names them. */
export type DbSslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';
const SSL_MODES: readonly DbSslMode[] = ['disable', 'require', 'verify-ca', 'verify-full'];

/** Everything a command acts through: the product's own adapters, never re-implemented here. */
export interface CliContext {
  readonly target: Target;
  readonly clients: AwsClients;
  /** A Lambda client whose timeout fits a synchronous rejoin (minutes, not the probe loop's seconds). */
  readonly lambda: LambdaClient;
  readonly store: DynamoStore;
  readonly fence: Ec2Fence;
  /** Undefined when no hosted zone is known. */
  readonly dns: Route53Dns | undefined;
  /** The controller's database credentials; undefined when none are available here. */
  db(): Promise<DbAccess | undefined>;
  /** The PostgreSQL adapter with those credentials; undefined without them. */
  pg(): Promise<PgNodeAdapter | undefined>;
  now(): number;
}

/** The file name the lab writes its outputs to, in its data folder (`.lab/`, or PGQ_LAB_DIR). */
export const LAB_OUTPUTS_NAME = 'outputs.json';

/**
 * Where the lab's outputs file is: PGQ_LAB_DIR when set, else the first `.lab/outputs.json` up from the working
 * directory, else beside this CLI's own checkout. The CLI knows the lab only through this file.
 */
export function labOutputsPath(env: NodeJS.ProcessEnv = process.env, from = process.cwd()): string {
  if (env.PGQ_LAB_DIR) return path.join(env.PGQ_LAB_DIR, LAB_OUTPUTS_NAME);
  for (const start of [from, __dirname]) {
    for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, '.lab', LAB_OUTPUTS_NAME);
      if (fs.existsSync(candidate)) return candidate;
      if (path.dirname(dir) === dir) break;
    }
  }
  return path.join(path.resolve(from), '.lab', LAB_OUTPUTS_NAME);
}

/** The lab outputs file's SDK endpoint, when a lab is running (its file exists and parses). */
function labEndpoint(env: NodeJS.ProcessEnv): string | undefined {
  try {
    const doc = JSON.parse(fs.readFileSync(labOutputsPath(env), 'utf8')) as Record<string, Record<string, string>>;
    const stack = Object.values(doc)[0];
    const sdk = stack?.[SDK_ENVIRONMENT_OUTPUT];
    return sdk ? (JSON.parse(sdk) as Record<string, string>).AWS_ENDPOINT_URL : undefined;
  } catch {
    return undefined;
  }
}

/** True when the command should target the lab: `--lab`, or AWS_ENDPOINT_URL naming the running lab's emulator. */
export function wantsLab(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): boolean {
  if (opts.lab) return true;
  if (opts.outputs || opts.stack || !env.AWS_ENDPOINT_URL) return false;
  const lab = labEndpoint(env);
  return !!lab && lab.replace(/\/$/, '') === env.AWS_ENDPOINT_URL.replace(/\/$/, '');
}

function parseSettings(raw: string | undefined, fallback: ControllerSettings): ControllerSettings {
  if (!raw) return fallback;
  try {
    const r = settingsSchema.safeParse(JSON.parse(raw));
    return r.success ? r.data : fallback;
  } catch {
    return fallback;
  }
}

/**
 * The target from an outputs file (`--outputs`, or the lab's with `--lab`): the same outputs a stack declares,
 * read from disk. Its SDK environment (the lab's emulator) is applied before any AWS client is made.
 */
export function fileTarget(opts: GlobalOptions, file: string, kind: Target['kind'], env: NodeJS.ProcessEnv): Target {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new EnvironmentError(
      kind === 'lab'
        ? `no lab is running (no ${LAB_OUTPUTS_NAME} at ${file}): start one with \`npm run lab -- up\``
        : `outputs file ${file} not found (write it with \`cdk deploy --outputs-file ${file}\`)`,
    );
  }
  const f = parseOutputsFile(file, text, kind === 'lab' ? undefined : opts.stack);
  Object.assign(env, f.environment);
  return targetFromOutputs(opts, f.outputs, kind, [`outputs file ${file} (stack ${f.stackName})`], f.stackName);
}

/** The CDK construct id of each task's function, as it appears in the generated function name. */
const TASK_CONSTRUCT: Readonly<Record<string, RegExp>> = {
  'validate-input': /ValidateInput/i,
  'rejoin-old-primary': /RejoinOldPrimary/i,
  'settle-rejoin': /SettleRejoin/i,
};

/**
 * Without `--stack` (an older stack, or no cloudformation:DescribeStacks):
 * every controller function carries the cluster's configuration in its
 * environment (PGQ_CLUSTER, PGQ_TABLE, PGQ_ZONE_ID, records, settings, and the
 * probes' PGQ_STATE_MACHINE_ARN), so the functions are the fallback source.
 */
async function discoverFromFunctions(lambda: LambdaClient, cluster: string): Promise<FunctionConfiguration[]> {
  const out: FunctionConfiguration[] = [];
  for await (const page of paginateListFunctions({ client: lambda }, {})) {
    for (const f of page.Functions ?? []) {
      if (f.Environment?.Variables?.PGQ_CLUSTER === cluster && f.Environment.Variables.PGQ_TABLE) out.push(f);
    }
  }
  return out;
}

/** Each flag that can stand in for a stack output, with that output. */
const FLAG_OUTPUTS = [
  ['table', '--table', 'TableName'],
  ['zoneId', '--zone-id', 'HostedZoneId'],
  ['writerRecord', '--writer-record', 'WriterRecord'],
  ['readerRecord', '--reader-record', 'ReaderRecord'],
  ['stateMachineArn', '--state-machine-arn', 'StateMachineArn'],
] as const satisfies readonly (readonly [keyof GlobalOptions, string, StackOutputKey])[];

/**
 * The target from a stack's outputs (`--stack` or PGQ_STACK): one
 * DescribeStacks call. Explicit flags still win over each output.
 */
export async function stackTarget(
  opts: GlobalOptions,
  stackName: string,
  cfn: DescribeStacksClient,
  env: NodeJS.ProcessEnv,
): Promise<Target> {
  const o = await readStackOutputs(cfn, stackName, env.AWS_REGION ?? env.AWS_DEFAULT_REGION);
  return targetFromOutputs(opts, o, 'aws', [`stack ${stackName} outputs`], stackName);
}

/** A target from a stack's outputs, however they were read (DescribeStacks or a file). Explicit flags win. */
export function targetFromOutputs(
  opts: GlobalOptions,
  o: Partial<Record<StackOutputKey, string>>,
  kind: Target['kind'],
  discovery0: readonly string[],
  stackName: string,
): Target {
  if (opts.cluster && opts.cluster !== o.ClusterName) {
    throw new UsageError(
      `--cluster ${opts.cluster} does not match stack '${stackName}', which manages '${o.ClusterName}'`,
    );
  }
  const functions: Record<string, string> = {};
  if (o.ValidateInputFunction) functions['validate-input'] = o.ValidateInputFunction;
  if (o.RejoinFunction) functions['rejoin-old-primary'] = o.RejoinFunction;
  if (o.SettleRejoinFunction) functions['settle-rejoin'] = o.SettleRejoinFunction;
  // Written down so `status --json` explains a target that is not what the stack says, or is incomplete.
  const discovery = [...discovery0];
  for (const [opt, flag, key] of FLAG_OUTPUTS) {
    if (opts[opt] && opts[opt] !== o[key]) discovery.push(`${flag} overrides the stack output ${key}`);
  }
  const absent = STACK_OUTPUTS.filter((k) => !o[k]);
  if (absent.length) {
    discovery.push(
      kind === 'lab'
        ? `the lab has no ${absent.join(', ')} (the controller is not deployed: \`npm run lab -- deploy\`)`
        : `stack ${stackName} has no output ${absent.join(', ')} (deployed by an older version?)`,
    );
  }
  const sslMode = o.DbSslMode as DbSslMode | undefined;
  return {
    kind,
    cluster: o.ClusterName!,
    table: opts.table ?? o.TableName!,
    zoneId: opts.zoneId ?? o.HostedZoneId,
    writerRecord: opts.writerRecord ?? o.WriterRecord,
    readerRecord: opts.readerRecord ?? o.ReaderRecord,
    stateMachineArn: opts.stateMachineArn ?? o.StateMachineArn,
    functions,
    settings: parseSettings(o.Settings, DEFAULT_SETTINGS),
    discovery,
    ...(o.DbSecretArn ? { dbSecretArn: o.DbSecretArn } : {}),
    ...(sslMode && SSL_MODES.includes(sslMode) ? { dbSslMode: sslMode } : {}),
    ...(o.DbCaBundle && o.DbCaBundle !== 'none' ? { dbCaBundle: o.DbCaBundle } : {}),
    ...optional('nodeTlsNames', parseNodeTlsNames(o.NodeTlsNames, 'the stack output NodeTlsNames', discovery)),
  };
}

/** `{ [key]: value }` when value is defined, else `{}` (exactOptionalPropertyTypes-safe spreading). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/**
 * The AWS target: from the stack's outputs when a stack is named (flag first,
 * then PGQ_STACK), else from the controller functions' environment. `cfn`
 * makes the CloudFormation client only when a stack is named (tests inject one).
 */
export async function awsTarget(
  opts: GlobalOptions,
  lambda: LambdaClient,
  env: NodeJS.ProcessEnv,
  cfn: () => DescribeStacksClient = () => new CloudFormationClient({}),
): Promise<Target> {
  const stackName = opts.stack ?? env.PGQ_STACK;
  if (stackName) return stackTarget(opts, stackName, cfn(), env);
  const cluster = opts.cluster ?? env.PGQ_CLUSTER;
  if (!cluster) {
    throw new UsageError(
      '--stack (or --cluster) is required on AWS (or set PGQ_STACK / PGQ_CLUSTER; use --lab for the local lab)',
    );
  }
  const discovery: string[] = [];
  let fns: FunctionConfiguration[] = [];
  const complete = opts.table && opts.zoneId && opts.stateMachineArn;
  if (!complete) {
    try {
      fns = await discoverFromFunctions(lambda, cluster);
      discovery.push(`${fns.length} controller function(s) with PGQ_CLUSTER=${cluster}`);
    } catch (err) {
      discovery.push(`function discovery failed: ${(err as Error).message}`);
    }
  }
  const vars = (k: string) => fns.map((f) => f.Environment?.Variables?.[k]).find((v): v is string => !!v);
  const table = opts.table ?? env.PGQ_TABLE ?? vars('PGQ_TABLE');
  if (!table) {
    throw new EnvironmentError(
      `cannot find the table of cluster '${cluster}': no pgquorum function with PGQ_CLUSTER=${cluster} in ${
        env.AWS_REGION ?? 'the default region'
      }; pass --table (and --state-machine-arn, --zone-id)`,
    );
  }
  const functions: Record<string, string> = {};
  for (const [task, re] of Object.entries(TASK_CONSTRUCT)) {
    const f = fns.find((x) => re.test(x.FunctionName ?? ''));
    if (f?.FunctionName) functions[task] = f.FunctionName;
  }
  return {
    kind: 'aws',
    cluster,
    table,
    zoneId: opts.zoneId ?? env.PGQ_ZONE_ID ?? vars('PGQ_ZONE_ID'),
    writerRecord: opts.writerRecord ?? vars('PGQ_WRITER_RECORD'),
    readerRecord: opts.readerRecord ?? vars('PGQ_READER_RECORD'),
    stateMachineArn: opts.stateMachineArn ?? env.PGQ_STATE_MACHINE_ARN ?? vars('PGQ_STATE_MACHINE_ARN'),
    functions,
    settings: parseSettings(vars('PGQ_SETTINGS'), DEFAULT_SETTINGS),
    discovery,
    // The functions' own TLS settings: the CLI connects as they do. A CA file bundled into the functions (a
    // relative name) is not on this machine: PGQ_DB_CA_BUNDLE names the operator's copy then.
    ...optional(
      'dbSslMode',
      SSL_MODES.find((m) => m === vars('PGQ_DB_SSL_MODE')),
    ),
    ...optional(
      'dbCaBundle',
      [vars('PGQ_DB_CA_BUNDLE')].find((c) => c && (c.startsWith('arn:') || path.isAbsolute(c))),
    ),
    ...optional(
      'nodeTlsNames',
      parseNodeTlsNames(vars('PGQ_NODE_TLS_NAMES'), "the functions' PGQ_NODE_TLS_NAMES", discovery),
    ),
  };
}

/** Turns the SDK's credential failure into the one line an operator needs. */
async function requireCredentials(lambda: LambdaClient): Promise<void> {
  try {
    await lambda.config.credentials();
  } catch (err) {
    throw new EnvironmentError(
      `no AWS credentials (${(err as Error).message.split('\n')[0]}): use --profile, AWS_PROFILE or AWS_ACCESS_KEY_ID, or --lab for the local lab`,
    );
  }
}

/** Builds the context: lab or AWS, discovery, adapters. */
export async function makeContext(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Promise<CliContext> {
  if (opts.lab && opts.stack) {
    throw new UsageError('--stack names a stack on AWS and --lab the local lab: pass one of them');
  }
  if (opts.profile) env.AWS_PROFILE = opts.profile;
  if (opts.region) {
    env.AWS_REGION = opts.region;
    env.AWS_DEFAULT_REGION = opts.region;
  }
  if (opts.lab && opts.outputs) {
    throw new UsageError("--lab reads the lab's own outputs file: pass --lab or --outputs FILE, not both");
  }
  const lab = wantsLab(opts, env);
  const file = lab ? labOutputsPath(env) : opts.outputs;
  const target0 = file ? fileTarget(opts, file, lab ? 'lab' : 'aws', env) : undefined;
  if (!lab && !env.AWS_REGION && !env.AWS_DEFAULT_REGION && !env.AWS_PROFILE) {
    throw new UsageError('no AWS region: pass --region (or set AWS_REGION), or --lab for the local lab');
  }
  // Interactive commands tolerate a slower endpoint than the probe loop does.
  const clients = makeClients({ requestTimeoutMs: 10000, maxAttempts: 3 });
  const lambda = new LambdaClient({
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5000, requestTimeout: 16 * 60_000 }),
  });
  if (!lab) await requireCredentials(lambda);
  const target = target0 ?? (await awsTarget(opts, lambda, env));
  const store = new DynamoStore(clients.ddb, target.table, target.cluster);
  let db: Promise<DbAccess | undefined> | undefined;
  const getDb = () => {
    db ??= dbAccess(target, lambda, env);
    return db;
  };
  // A CLI probe may cross a VPN: a little more patience than the in-VPC probe loop.
  const timeouts = { connectTimeoutMs: 1500, statementTimeoutMs: 1500 };
  return {
    target,
    clients,
    lambda,
    store,
    fence: new Ec2Fence(clients.ec2, store),
    dns: target.zoneId ? new Route53Dns(clients.r53, target.zoneId) : undefined,
    db: getDb,
    async pg() {
      const a = await getDb();
      return a ? new PgNodeAdapter(parsePgConfig({ ...a, ...timeouts })) : undefined;
    },
    now: () => Date.now(),
  };
}

/** How this machine logs into the nodes (the controller's role). */
export interface DbAccess {
  readonly user: string;
  readonly password: string;
  readonly database: string;
  readonly ssl: PgConfig['ssl'];
}

/**
 * The mode the CLI (and a client given `connstr`'s string) connects with, and the CA it checks against: PGQ_DB_SSL_MODE
 * over the stack's DbSslMode, PGQ_DB_CA_BUNDLE over its DbCaBundle (a file path or an ARN).
 */
export function cliTlsMode(target: Target, env: NodeJS.ProcessEnv): { mode: DbSslMode; caRef?: string } {
  const envMode = env.PGQ_DB_SSL_MODE as DbSslMode | undefined;
  if (envMode && !SSL_MODES.includes(envMode)) {
    throw new UsageError(`PGQ_DB_SSL_MODE: ${envMode} is not one of ${SSL_MODES.join(', ')}`);
  }
  const caRef = env.PGQ_DB_CA_BUNDLE ?? target.dbCaBundle;
  return { mode: effectiveSslMode(envMode ?? target.dbSslMode, !!caRef), ...(caRef ? { caRef } : {}) };
}

/**
 * TLS as the functions connect (stack output DbSslMode, or PGQ_DB_SSL_MODE), checked against the stack's CA
 * (DbCaBundle, or an operator's own PEM file in PGQ_DB_CA_BUNDLE). A verify mode without any CA is refused rather
 * than weakened: the operator's machine would send the controller's password to whatever answers.
 */
export async function cliSsl(target: Target, env: NodeJS.ProcessEnv): Promise<PgConfig['ssl']> {
  const { mode, caRef } = cliTlsMode(target, env);
  if (verifiesServer(mode) && !caRef) {
    throw new UsageError(
      `the nodes are verified with ${mode}, and no CA is known: set PGQ_DB_CA_BUNDLE to the CA's PEM file (the stack output DbCaBundle names it)`,
    );
  }
  const ca = caRef && verifiesServer(mode) ? await readCaBundle(caRef, 'DbCaBundle') : undefined;
  return pgSsl(mode, ca, target.nodeTlsNames);
}

/**
 * The controller's database credentials: PGQ_DB_USER/PGQ_DB_PASSWORD, else
 * the secret the stack outputs name (the lab's outputs name one in its
 * emulator), else the one the functions use. The operator's machine must also
 * reach the nodes' private IPs: otherwise status falls back to what the probes saw.
 */
async function dbAccess(target: Target, lambda: LambdaClient, env: NodeJS.ProcessEnv): Promise<DbAccess | undefined> {
  const ssl = await cliSsl(target, env);
  if (env.PGQ_DB_USER && env.PGQ_DB_PASSWORD) {
    return { user: env.PGQ_DB_USER, password: env.PGQ_DB_PASSWORD, database: env.PGQ_DB_NAME ?? 'postgres', ssl };
  }
  try {
    const secretArn =
      target.dbSecretArn ??
      (await discoverFromFunctions(lambda, target.cluster))
        .map((f) => f.Environment?.Variables?.PGQ_DB_SECRET_ARN)
        .find((v): v is string => !!v);
    if (!secretArn) return undefined;
    const r = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: secretArn }));
    const s = JSON.parse(r.SecretString ?? '{}') as { username?: string; password?: string };
    if (!s.username || !s.password) return undefined;
    return { user: s.username, password: s.password, database: env.PGQ_DB_NAME ?? 'postgres', ssl };
  } catch {
    return undefined;
  }
}

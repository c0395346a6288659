import path from 'node:path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, LogLevel, NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { METRIC_NAMESPACE, ssmDocumentName, ssmDocumentPrefix } from '../../lambdas/core/contract';
import { HOST_SCRIPTS } from '../../lambdas/ports/host-command-port';
import { normalizedRecordName } from '../config';
import { handlerCode } from './cluster-assets';
import { TASKS, type TaskName, type TaskSpec } from './tasks';

/** The construct id of a task's function (`fence` -> `TaskFence`); the lab deployer maps functions back with it. */
export function taskConstructId(name: string): string {
  return `Task${name.replace(/(^|-)(\w)/g, (_m, _d, ch: string) => ch.toUpperCase())}`;
}

/** How NodejsFunction bundles a handler from source; scripts/build-construct.mjs prebuilds with the same options. */
export const BUNDLING: BundlingOptions = {
  minify: true,
  // Error class names are API (logs, the timeline, Step Functions causes): keep them through minification.
  keepNames: true,
  // No source map: Node reads one only under --enable-source-maps, which these functions do not set (it
  // slows every error), so the map was 9.2 MB of dead weight per zip (2.4 MB zip -> 0.67 MB without it).
  sourceMap: false,
  // esbuild's size table on every synth buried the demo's narration; warnings and errors still print.
  logLevel: LogLevel.WARNING,
  target: 'node22',
  // The SDK is bundled, not taken from the runtime: the version the tests ran is the version that ships
  // (and emulators' local executors stub only some clients). pg's optional native binding is never used.
  externalModules: ['pg-native'],
  forceDockerBundling: false,
};

/** The CA bundle's name inside every function bundle when dbCaBundle is a file (PGQ_DB_CA_BUNDLE, relative). */
export const BUNDLED_CA_FILE = 'db-ca.pem';

/** What every controller function is built from: the cluster's resources and names. */
export interface FunctionContext {
  readonly cluster: string;
  readonly table: dynamodb.ITable;
  readonly secret: secretsmanager.ISecret;
  readonly topic: sns.ITopic;
  readonly vpc: ec2.IVpc;
  readonly subnets: readonly ec2.ISubnet[];
  readonly securityGroup: ec2.ISecurityGroup;
  readonly hostedZoneId: string;
  readonly records: { readonly writer: string; readonly reader: string };
  readonly nodes: readonly { readonly instanceId: string; readonly securityGroupId: string }[];
  /** A CA file (absolute) copied into every bundle built from source as BUNDLED_CA_FILE. @default none */
  readonly caFile?: string;
  /** Grants read access to the CA's parameter or secret (functions that connect to PostgreSQL). @default none */
  readonly caRead?: (grantee: iam.IGrantable) => void;
  /** The environment every function gets (the table, records, settings, secret id ...). */
  readonly environment: Readonly<Record<string, string>>;
}

/**
 * One controller function (a task or a probe) with its log group and exactly the rights its spec needs. `scope`
 * owns both constructs, so their logical ids are `id` and `${id}Logs` under it.
 */
export function controllerFunction(
  scope: Construct,
  id: string,
  spec: TaskSpec,
  ctx: FunctionContext,
  extraEnv: Record<string, string>,
  subnet?: ec2.ISubnet,
): lambda.Function {
  const stack = Stack.of(scope);
  const arn = (service: string, region: string, account: string, resource: string) =>
    `arn:${stack.partition}:${service}:${region}:${account}:${resource}`;
  const sgArns = ctx.nodes.map((n) => arn('ec2', stack.region, stack.account, `security-group/${n.securityGroupId}`));
  const instanceArns = ctx.nodes.map((n) => arn('ec2', stack.region, stack.account, `instance/${n.instanceId}`));
  const docArns = HOST_SCRIPTS.map((s) =>
    arn('ssm', stack.region, stack.account, `document/${ssmDocumentName(ssmDocumentPrefix(ctx.cluster), s)}`),
  );
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
    retention: logs.RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const common: lambda.FunctionOptions & { runtime: lambda.Runtime } = {
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: spec.memoryMb,
    timeout: Duration.seconds(spec.timeoutSec),
    // A step that never connects to PostgreSQL never fetches the secret (and has no right to): it still passes
    // the secret's id to host commands, whose scripts read it with the instance role.
    environment: {
      ...ctx.environment,
      ...(spec.needs.includes('postgres') ? {} : { PGQ_DB_ACCESS: 'none' }),
      ...extraEnv,
    },
    logGroup,
    tracing: lambda.Tracing.ACTIVE,
    ...(spec.needsVpc
      ? {
          vpc: ctx.vpc,
          vpcSubnets: { subnets: subnet ? [subnet] : [...ctx.subnets] },
          securityGroups: [ctx.securityGroup],
        }
      : {}),
  };
  const code = handlerCode(spec.entry);
  const f =
    'source' in code
      ? new NodejsFunction(scope, id, {
          ...common,
          entry: code.source,
          handler: 'handler',
          bundling: ctx.caFile
            ? {
                ...BUNDLING,
                commandHooks: {
                  beforeBundling: () => [],
                  beforeInstall: () => [],
                  afterBundling: (_in: string, out: string) => [
                    `cp ${JSON.stringify(ctx.caFile)} ${JSON.stringify(path.join(out, BUNDLED_CA_FILE))}`,
                  ],
                },
              }
            : BUNDLING,
        })
      : // The installed package: scripts/build-construct.mjs bundled the handler with the same options.
        new lambda.Function(scope, id, {
          ...common,
          code: lambda.Code.fromAsset(code.bundleDir),
          handler: 'index.handler',
        });
  // Whole-table rights, probes included: dynamodb:LeadingKeys scopes by partition key only, and a cluster's
  // lease, votes and history share one partition so they change in one transaction (README, Deploying to AWS).
  ctx.table.grantReadWriteData(f);
  if (spec.needs.includes('postgres')) ctx.secret.grantRead(f);
  if (spec.needs.includes('postgres') && !ctx.caFile) ctx.caRead?.(f);
  f.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': METRIC_NAMESPACE } },
    }),
  );
  if (spec.needs.includes('fence') || spec.needs.includes('describe-sg')) {
    f.addToRolePolicy(new iam.PolicyStatement({ actions: ['ec2:DescribeSecurityGroups'], resources: ['*'] }));
  }
  if (spec.needs.includes('fence')) {
    f.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ec2:RevokeSecurityGroupIngress', 'ec2:AuthorizeSecurityGroupIngress'],
        resources: sgArns,
      }),
    );
  }
  if (spec.needs.includes('describe-instance')) {
    // The host's state as EC2 and SSM's agent report it; neither action takes a resource-level permission.
    f.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ec2:DescribeInstances', 'ssm:DescribeInstanceInformation'],
        resources: ['*'],
      }),
    );
  }
  if (spec.needs.includes('stop-instance')) {
    // STONITH, scoped to the node instances of this cluster.
    f.addToRolePolicy(new iam.PolicyStatement({ actions: ['ec2:StopInstances'], resources: instanceArns }));
  }
  if (spec.needs.includes('ssm')) {
    f.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['ssm:SendCommand'], resources: [...instanceArns, ...docArns] }),
    );
    f.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:GetCommandInvocation'], resources: ['*'] }));
  }
  if (spec.needs.includes('route53')) {
    const zoneArn = `arn:${stack.partition}:route53:::hostedzone/${ctx.hostedZoneId}`;
    // Only UPSERTs of the two A records: a leaked function role cannot repoint any other name in the zone.
    // ForAllValues: every change in the batch must match (the condition keys are multi-valued per request).
    f.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['route53:ChangeResourceRecordSets'],
        resources: [zoneArn],
        conditions: {
          'ForAllValues:StringEquals': {
            'route53:ChangeResourceRecordSetsNormalizedRecordNames': [
              normalizedRecordName(ctx.records.writer),
              normalizedRecordName(ctx.records.reader),
            ],
            'route53:ChangeResourceRecordSetsRecordTypes': ['A'],
            'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
          },
        },
      }),
    );
    f.addToRolePolicy(new iam.PolicyStatement({ actions: ['route53:ListResourceRecordSets'], resources: [zoneArn] }));
  }
  if (spec.needs.includes('route53') || spec.needs.includes('route53-status')) {
    f.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['route53:GetChange'],
        resources: [`arn:${stack.partition}:route53:::change/*`],
      }),
    );
  }
  if (spec.needs.includes('sns')) ctx.topic.grantPublish(f);
  return f;
}

/** Properties of {@link ControllerFunctions}. */
export interface ControllerFunctionsProps {
  readonly context: FunctionContext;
}

/**
 * The state machine's task functions, one per TASKS entry, kept warm: failovers are rare, so every task function
 * would otherwise start cold exactly when seconds matter.
 */
export class ControllerFunctions extends Construct {
  /** Every task function, by task name. */
  readonly functions: Record<TaskName, lambda.Function>;

  constructor(scope: Construct, id: string, props: ControllerFunctionsProps) {
    super(scope, id);
    this.functions = Object.fromEntries(
      (Object.entries(TASKS) as [TaskName, TaskSpec][]).map(([name, spec]) => [
        name,
        controllerFunction(this, taskConstructId(name), spec, props.context, {}),
      ]),
    ) as Record<TaskName, lambda.Function>;

    // A ping every 5 minutes keeps one container of each warm (about 130k invocations a month: cents).
    const fns = Object.values(this.functions);
    // EventBridge allows at most 5 targets per rule.
    for (let i = 0; i < fns.length; i += 5) {
      new events.Rule(this, `KeepWarm${i / 5 + 1}`, {
        description: 'pgquorum: keep the failover task functions warm',
        schedule: events.Schedule.rate(Duration.minutes(5)),
        targets: fns.slice(i, i + 5).map(
          (f) =>
            new targets.LambdaFunction(f, {
              event: events.RuleTargetInput.fromObject({ warmup: true }),
              retryAttempts: 0,
            }),
        ),
      });
    }
  }
}

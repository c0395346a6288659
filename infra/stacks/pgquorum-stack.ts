import fs from 'node:fs';
import path from 'node:path';
import { Annotations, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as cr from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import { HOST_SCRIPTS } from '../../lambdas/ports/host-command-port';
import { type DeployConfig, normalizedRecordName, recordNames } from '../config';
import { FailoverStateMachine } from '../constructs/failover-state-machine';
import { PROBE, TASKS, type TaskName, type TaskSpec } from '../constructs/tasks';

const REPO = path.resolve(__dirname, '..', '..');
const SCRIPTS = path.join(REPO, 'infra', 'host-scripts');
/** The namespace every metric and alarm uses. */
export const NAMESPACE = 'PgQuorum';
/** Parameters the host scripts take (exported as environment variables by the SSM documents). */
const SCRIPT_PARAMS = [
  'SOURCE_CONNINFO',
  'PRIMARY_CONNINFO',
  'SLOT_NAME',
  'DIVERGE_LSN',
  'OLD_TIMELINE',
  'SOURCE_HOST',
  'SOURCE_PORT',
  'REPL_USER',
  'REWIND_USER',
  // The secret's id, never a password: parameters are visible in SSM command history, so the script reads the
  // passwords on the host with the instance role (see the host policy below) into a passfile.
  'SECRET_ID',
];

/** The construct id of a task's function (`fence` -> `TaskFence`); the lab deployer maps functions back with it. */
export function taskConstructId(name: string): string {
  return `Task${name.replace(/(^|-)(\w)/g, (_m, _d, ch: string) => ch.toUpperCase())}`;
}

/** Properties of the stack. */
export interface PgQuorumStackProps extends StackProps {
  readonly config: DeployConfig;
}

/**
 * Everything pgquorum runs on AWS: the vote/lease table, three probes (one per
 * AZ), the failover/switchover state machine and its task functions, the
 * alarm backstop, host-command documents, notifications and the dashboard.
 */
export class PgQuorumStack extends Stack {
  /** The validated configuration the stack was built from. */
  readonly config: DeployConfig;
  readonly table: dynamodb.Table;
  readonly stateMachine: FailoverStateMachine;
  readonly functions: Record<TaskName, NodejsFunction>;
  readonly probes: NodejsFunction[];
  readonly quorumAlarm: cloudwatch.Alarm;
  /** Attach to the PostgreSQL instances' role: the host scripts read the database secret with it. */
  readonly hostPolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: PgQuorumStackProps) {
    super(scope, id, props);
    const c = props.config;
    this.config = c;
    const records = recordNames(c);

    const routeTableIds = c.probeSubnets.every((s) => s.routeTableId)
      ? c.probeSubnets.map((s) => s.routeTableId as string)
      : undefined;
    // Imported by attributes, never looked up: `cdk synth` works offline on a fresh clone.
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: c.vpcId,
      vpcCidrBlock: c.vpcCidr,
      availabilityZones: c.probeSubnets.map((s) => s.az),
      privateSubnetIds: c.probeSubnets.map((s) => s.subnetId),
      ...(routeTableIds ? { privateSubnetRouteTableIds: routeTableIds } : {}),
    });
    const subnets = c.probeSubnets.map((s, i) =>
      ec2.Subnet.fromSubnetAttributes(this, `ProbeSubnet${i}`, {
        subnetId: s.subnetId,
        availabilityZone: s.az,
        routeTableId: s.routeTableId,
      }),
    );

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'expiresAt',
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const secret = c.dbSecretArn
      ? secretsmanager.Secret.fromSecretCompleteArn(this, 'DbSecret', c.dbSecretArn)
      : c.dbSecretName
        ? secretsmanager.Secret.fromSecretNameV2(this, 'DbSecret', c.dbSecretName)
        : new secretsmanager.Secret(this, 'DbSecret', {
            description: `pgquorum ${c.cluster}: the controller's PostgreSQL credentials (not readable by the hosts)`,
            generateSecretString: {
              secretStringTemplate: JSON.stringify({ username: 'pgquorum', replicationUsername: 'replicator' }),
              generateStringKey: 'password',
              excludePunctuation: true,
            },
          });

    // The hosts' own secret: the replication and rewind passwords, all the host scripts need. A second secret
    // because IAM grants GetSecretValue on a whole secret, never on one of its keys: with one secret the hosts
    // could read the controller's password. Generated with one password for both host roles (Secrets Manager
    // generates one key); both are read only by the hosts, so a second one would protect nothing from a host that
    // holds both. Give `rewindPassword` its own value to rotate it apart.
    const hostSecret = c.hostSecretArn
      ? secretsmanager.Secret.fromSecretCompleteArn(this, 'HostSecret', c.hostSecretArn)
      : c.hostSecretName
        ? secretsmanager.Secret.fromSecretNameV2(this, 'HostSecret', c.hostSecretName)
        : new secretsmanager.Secret(this, 'HostSecret', {
            description: `pgquorum ${c.cluster}: replication and rewind credentials, read by the PostgreSQL hosts`,
            generateSecretString: {
              secretStringTemplate: JSON.stringify({
                replicationUsername: c.replicationUser,
                rewindUsername: c.rewindUser,
              }),
              generateStringKey: 'replicationPassword',
              excludePunctuation: true,
            },
          });

    // For the PostgreSQL instances' role: host scripts read the passwords themselves (SECRET_ID), because SSM keeps
    // every command parameter in its history. The stack does not own the instances, so it exports the policy.
    this.hostPolicy = new iam.ManagedPolicy(this, 'HostPolicy', {
      description: `pgquorum ${c.cluster}: attach to the PostgreSQL instances' role (host scripts read the hosts' secret)`,
      statements: [
        new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          resources: [hostSecret.secretFullArn ?? `${hostSecret.secretArn}-??????`],
        }),
      ],
    });
    new CfnOutput(this, 'HostSecretArn', {
      value: hostSecret.secretArn,
      description: 'The replication and rewind credentials (the hosts read them; the controller only names them)',
    });
    new CfnOutput(this, 'HostPolicyArn', {
      value: this.hostPolicy.managedPolicyArn,
      description: "Attach to the PostgreSQL instances' IAM role: lets pgquorum's host scripts read the hosts' secret",
    });

    const topicKey = kms.Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns');
    const topic = new sns.Topic(this, 'Alerts', {
      displayName: `pgquorum ${c.cluster}`,
      masterKey: topicKey,
      enforceSSL: true,
    });
    if (c.alarmEmail) topic.addSubscription(new subs.EmailSubscription(c.alarmEmail));

    const fnSg = new ec2.SecurityGroup(this, 'ControllerSg', {
      vpc,
      description: 'pgquorum controller functions: PostgreSQL to the nodes, HTTPS to AWS endpoints',
      allowAllOutbound: false,
    });
    fnSg.addEgressRule(ec2.Peer.ipv4(c.vpcCidr), ec2.Port.tcp(5432), 'PostgreSQL on the nodes');
    for (const n of c.nodes.filter((n) => n.port !== 5432)) {
      fnSg.addEgressRule(ec2.Peer.ipv4(`${n.privateIp}/32`), ec2.Port.tcp(n.port), `PostgreSQL on ${n.name}`);
    }
    fnSg.addEgressRule(ec2.Peer.ipv4(c.vpcCidr), ec2.Port.tcp(443), 'AWS interface endpoints');
    if (c.createVpcEndpoints && routeTableIds) {
      // The DynamoDB gateway endpoint is reached at DynamoDB's public addresses (its prefix list is per region and
      // cannot be resolved offline at synth time). Subnets without NAT reach nothing else on 443.
      fnSg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'DynamoDB through the gateway endpoint');
    }

    // Functions in the VPC reach AWS APIs through endpoints, no NAT needed. Route 53 has no VPC endpoint at all,
    // which is why flip-dns (the only Route 53 writer during a failover) runs outside the VPC. CloudWatch Logs and
    // X-Ray need none either: Lambda ships logs and traces itself, outside the function's network.
    if (c.createVpcEndpoints) this.addEndpoints(vpc, subnets, fnSg, routeTableIds);
    else
      Annotations.of(this).addInfoV2(
        'pgquorum:endpoints',
        'createVpcEndpoints is false: the VPC must already reach DynamoDB, SSM, Step Functions, Secrets Manager, EC2 and SNS privately.',
      );

    const settings = JSON.stringify(c.thresholds);
    const baseEnv: Record<string, string> = {
      PGQ_CLUSTER: c.cluster,
      PGQ_TABLE: this.table.tableName,
      PGQ_ZONE_ID: c.hostedZoneId,
      PGQ_WRITER_RECORD: records.writer,
      PGQ_READER_RECORD: records.reader,
      PGQ_RECORD_TTL: String(c.recordTtlSec),
      PGQ_SETTINGS: settings,
      PGQ_DB_SECRET_ARN: secret.secretArn,
      // Named, never read by the functions: host commands send it as SECRET_ID.
      PGQ_HOST_SECRET_ARN: hostSecret.secretArn,
      PGQ_REPL_USER: c.replicationUser,
      PGQ_REWIND_USER: c.rewindUser,
      // What the table's NODE# items and fence snapshots are checked against before use (issue 15).
      PGQ_NODES: JSON.stringify(
        c.nodes.map((n) => ({ name: n.name, host: n.privateIp, port: n.port, securityGroupId: n.securityGroupId })),
      ),
      PGQ_ALLOWED_INGRESS: JSON.stringify({
        cidrs: c.allowedIngress.cidrs ?? [c.vpcCidr],
        securityGroupIds: c.allowedIngress.securityGroupIds,
      }),
      PGQ_DB_SSL: 'require',
      PGQ_SSM_DOCUMENT_PREFIX: `pgquorum-${c.cluster}`,
      PGQ_PGDATA: c.pgdata,
      PGQ_TOPIC_ARN: topic.topicArn,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };

    const sgArns = c.nodes.map(
      (n) => `arn:${this.partition}:ec2:${this.region}:${this.account}:security-group/${n.securityGroupId}`,
    );
    const instanceArns = c.nodes.map(
      (n) => `arn:${this.partition}:ec2:${this.region}:${this.account}:instance/${n.instanceId}`,
    );
    const docArns = HOST_SCRIPTS.map(
      (s) => `arn:${this.partition}:ssm:${this.region}:${this.account}:document/pgquorum-${c.cluster}-${s}`,
    );

    const makeFn = (id: string, spec: TaskSpec, extraEnv: Record<string, string>, subnet?: ec2.ISubnet) => {
      const logGroup = new logs.LogGroup(this, `${id}Logs`, {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const f = new NodejsFunction(this, id, {
        entry: path.join(REPO, 'lambdas', 'handlers', `${spec.entry}.ts`),
        handler: 'handler',
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: spec.memoryMb,
        timeout: Duration.seconds(spec.timeoutSec),
        // A step that never connects to PostgreSQL never fetches the secret (and has no right to): it still passes
        // the secret's id to host commands, whose scripts read it with the instance role.
        environment: { ...baseEnv, ...(spec.needs.includes('postgres') ? {} : { PGQ_DB_ACCESS: 'none' }), ...extraEnv },
        logGroup,
        tracing: lambda.Tracing.ACTIVE,
        ...(spec.needsVpc ? { vpc, vpcSubnets: { subnets: subnet ? [subnet] : subnets }, securityGroups: [fnSg] } : {}),
        bundling: {
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
        },
      });
      // Whole-table rights, probes included: dynamodb:LeadingKeys scopes by partition key only, and a cluster's
      // lease, votes and history share one partition so they change in one transaction (README, Deploying to AWS).
      this.table.grantReadWriteData(f);
      if (spec.needs.includes('postgres')) secret.grantRead(f);
      f.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['cloudwatch:PutMetricData'],
          resources: ['*'],
          conditions: { StringEquals: { 'cloudwatch:namespace': NAMESPACE } },
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
        f.addToRolePolicy(new iam.PolicyStatement({ actions: ['ec2:DescribeInstances'], resources: ['*'] }));
      }
      if (spec.needs.includes('stop-instance')) {
        // STONITH, scoped to the node instances of this stack.
        f.addToRolePolicy(new iam.PolicyStatement({ actions: ['ec2:StopInstances'], resources: instanceArns }));
      }
      if (spec.needs.includes('ssm')) {
        f.addToRolePolicy(
          new iam.PolicyStatement({ actions: ['ssm:SendCommand'], resources: [...instanceArns, ...docArns] }),
        );
        f.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:GetCommandInvocation'], resources: ['*'] }));
      }
      if (spec.needs.includes('route53')) {
        const zoneArn = `arn:${this.partition}:route53:::hostedzone/${c.hostedZoneId}`;
        // Only UPSERTs of the two A records: a leaked function role cannot repoint any other name in the zone.
        // ForAllValues: every change in the batch must match (the condition keys are multi-valued per request).
        f.addToRolePolicy(
          new iam.PolicyStatement({
            actions: ['route53:ChangeResourceRecordSets'],
            resources: [zoneArn],
            conditions: {
              'ForAllValues:StringEquals': {
                'route53:ChangeResourceRecordSetsNormalizedRecordNames': [
                  normalizedRecordName(records.writer),
                  normalizedRecordName(records.reader),
                ],
                'route53:ChangeResourceRecordSetsRecordTypes': ['A'],
                'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
              },
            },
          }),
        );
        f.addToRolePolicy(
          new iam.PolicyStatement({ actions: ['route53:ListResourceRecordSets'], resources: [zoneArn] }),
        );
      }
      if (spec.needs.includes('route53') || spec.needs.includes('route53-status')) {
        f.addToRolePolicy(
          new iam.PolicyStatement({
            actions: ['route53:GetChange'],
            resources: [`arn:${this.partition}:route53:::change/*`],
          }),
        );
      }
      if (spec.needs.includes('sns')) topic.grantPublish(f);
      return f;
    };

    this.functions = Object.fromEntries(
      (Object.entries(TASKS) as [TaskName, TaskSpec][]).map(([name, spec]) => [
        name,
        makeFn(taskConstructId(name), spec, {}),
      ]),
    ) as Record<TaskName, NodejsFunction>;

    // Failovers are rare, so every task function would start cold exactly when seconds matter. A ping every
    // 5 minutes keeps one container of each warm (about 130k invocations a month: cents).
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

    const smLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new FailoverStateMachine(this, 'Failover', { functions: this.functions, logGroup: smLogs });

    // Probes: one per AZ, each pinned to that AZ's subnet, started every minute, looping every probeIntervalMs.
    const probeAzs = c.probeSubnets.map((s) => s.az).join(',');
    this.probes = c.probeSubnets.map((s, i) => {
      const f = makeFn(
        `Probe${i + 1}`,
        PROBE,
        {
          PGQ_AZ: s.az,
          PGQ_PROBE_AZS: probeAzs,
          PGQ_STATE_MACHINE_ARN: this.stateMachine.stateMachine.stateMachineArn,
        },
        subnets[i],
      );
      this.stateMachine.stateMachine.grantStartExecution(f);
      // A name already taken is "already started" only while that execution runs: the starter lists running ones.
      this.stateMachine.stateMachine.grant(f, 'states:ListExecutions');
      // Lambda retries a failed asynchronous invocation twice by default: a crashed probe loop would come back next
      // to the one the schedule starts a minute later, two loops voting for one AZ. The schedule is the retry.
      f.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });
      new events.Rule(this, `ProbeSchedule${i + 1}`, {
        description: `pgquorum ${c.cluster} probe in ${s.az}`,
        schedule: events.Schedule.rate(Duration.minutes(1)),
        targets: [new targets.LambdaFunction(f, { retryAttempts: 0 })],
      });
      return f;
    });

    // Backstop: at least 2 of 3 AZs report the primary unreachable. Missing data counts as reachable:
    // a silent probe is the probes-silent alarm's business, never a reason to fail over (fail static).
    const reach = c.probeSubnets.map(
      (s, i) =>
        [
          `r${i}`,
          new cloudwatch.Metric({
            namespace: NAMESPACE,
            metricName: 'PrimaryReachable',
            dimensionsMap: { Cluster: c.cluster, Az: s.az },
            statistic: 'Maximum',
            period: Duration.seconds(10),
          }),
        ] as const,
    );
    const downAzs = new cloudwatch.MathExpression({
      expression: `3 - (${reach.map(([k]) => `FILL(${k}, 1)`).join(' + ')})`,
      usingMetrics: Object.fromEntries(reach),
      period: Duration.seconds(10),
      label: 'AZs that cannot reach the primary',
    });
    this.quorumAlarm = downAzs.createAlarm(this, 'QuorumDownAlarm', {
      alarmDescription: `pgquorum ${c.cluster}: at least 2 of 3 AZs cannot reach the primary (backstop trigger)`,
      threshold: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    new events.Rule(this, 'QuorumDownRule', {
      description:
        'quorum-down alarm -> failover state machine (the probes start it first; the lease makes one run win)',
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        resources: [this.quorumAlarm.alarmArn],
        detail: { state: { value: ['ALARM'] } },
      },
      targets: [
        new targets.SfnStateMachine(this.stateMachine.stateMachine, {
          input: events.RuleTargetInput.fromObject({
            input: { mode: 'failover', cluster: c.cluster, reason: 'quorum-down alarm' },
          }),
        }),
      ],
    });

    const alarmAction = new cwActions.SnsAction(topic);
    const alarm = (id: string, metric: cloudwatch.IMetric, props: Omit<cloudwatch.AlarmProps, 'metric'>) => {
      const a = new cloudwatch.Alarm(this, id, { metric, ...props });
      a.addAlarmAction(alarmAction);
      return a;
    };
    this.quorumAlarm.addAlarmAction(alarmAction);
    c.probeSubnets.forEach((s, i) => {
      alarm(
        `ProbesSilent${i + 1}`,
        new cloudwatch.Metric({
          namespace: NAMESPACE,
          metricName: 'PrimaryReachable',
          dimensionsMap: { Cluster: c.cluster, Az: s.az },
          statistic: 'SampleCount',
          period: Duration.minutes(1),
        }),
        {
          alarmDescription: `pgquorum ${c.cluster}: the probe in ${s.az} is silent (controller impaired: page a human, never fail over)`,
          threshold: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
          evaluationPeriods: 3,
          treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        },
      );
    });
    alarm(
      'FailoverFailed',
      this.stateMachine.stateMachine.metricFailed({ period: Duration.minutes(1), statistic: 'Sum' }),
      {
        alarmDescription: `pgquorum ${c.cluster}: a failover/switchover run failed (see the runbook)`,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
    );
    // A stopped or timed-out execution never reaches Abort: its lease stays in flight, nothing automatic happens
    // and no notification goes out, so these two page on their own (docs/runbook.md, "A stuck in-flight lease").
    alarm(
      'RunAborted',
      this.stateMachine.stateMachine.metricAborted({ period: Duration.minutes(1), statistic: 'Sum' }),
      {
        alarmDescription: `pgquorum ${c.cluster}: a failover/switchover execution was stopped before it finished: its lease may be stuck in flight (runbook: "A stuck in-flight lease", pgquorum lease break)`,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
    );
    alarm(
      'RunTimedOut',
      this.stateMachine.stateMachine.metricTimedOut({ period: Duration.minutes(1), statistic: 'Sum' }),
      {
        alarmDescription: `pgquorum ${c.cluster}: a failover/switchover execution timed out: its lease is stuck in flight (runbook: "A stuck in-flight lease", pgquorum lease break)`,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
    );
    alarm(
      'NeedsAttention',
      new cloudwatch.Metric({
        namespace: NAMESPACE,
        metricName: 'NeedsAttention',
        dimensionsMap: { Cluster: c.cluster },
        statistic: 'Sum',
        period: Duration.minutes(1),
      }),
      {
        alarmDescription: `pgquorum ${c.cluster}: the cluster needs attention (nothing automatic happens until resumed)`,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
    );
    alarm(
      'ReplicaLag',
      new cloudwatch.Metric({
        namespace: NAMESPACE,
        metricName: 'ReplicaLagBytes',
        dimensionsMap: { Cluster: c.cluster },
        statistic: 'Maximum',
        period: Duration.minutes(1),
      }),
      {
        alarmDescription: `pgquorum ${c.cluster}: a replica lags more than maxLagBytes (RPO budget)`,
        threshold: c.thresholds.maxLagBytes,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
    );
    alarm(
      'SyncStandbyMissing',
      // Seconds since the primary lost its last synchronous standby, from every probe round (high resolution):
      // a 10 s Maximum reaches syncStandbyAlarmSec within one period of the loss lasting that long.
      new cloudwatch.Metric({
        namespace: NAMESPACE,
        metricName: 'SyncStandbyMissingSeconds',
        dimensionsMap: { Cluster: c.cluster },
        statistic: 'Maximum',
        period: Duration.seconds(10),
      }),
      {
        alarmDescription: `pgquorum ${c.cluster}: no synchronous standby for ${c.thresholds.syncStandbyAlarmSec} s: commits block cluster-wide (onNoSyncStandby ${c.thresholds.onNoSyncStandby}; no failover: fix replication)`,
        threshold: c.thresholds.syncStandbyAlarmSec,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
    );
    alarm(
      'UnnamedPrimary',
      new cloudwatch.Metric({
        namespace: NAMESPACE,
        metricName: 'UnnamedPrimary',
        dimensionsMap: { Cluster: c.cluster },
        statistic: 'Maximum',
        period: Duration.seconds(10),
      }),
      {
        alarmDescription: `pgquorum ${c.cluster}: a node answers as a writable primary the lease does not name (two writers: see the runbook)`,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // Two periods: a probe round that straddles a commit must not page.
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
    );

    // Host commands: one SSM document per script, the script text inlined (common.sh first).
    const common = fs.readFileSync(path.join(SCRIPTS, 'common.sh'), 'utf8');
    for (const script of HOST_SCRIPTS) {
      const body = fs.readFileSync(path.join(SCRIPTS, `${script}.sh`), 'utf8').replace(/^\. .*common\.sh.*$/m, common);
      new ssm.CfnDocument(this, `Doc${script.replace(/(^|-)(\w)/g, (_m, _d, ch: string) => ch.toUpperCase())}`, {
        name: `pgquorum-${c.cluster}-${script}`,
        documentType: 'Command',
        updateMethod: 'NewVersion',
        content: {
          schemaVersion: '2.2',
          description: `pgquorum host script ${script}`,
          parameters: Object.fromEntries(
            SCRIPT_PARAMS.map((p) => [p, { type: 'String', default: '', allowedPattern: "^[^'\\n]*$" }]),
          ),
          mainSteps: [
            {
              action: 'aws:runShellScript',
              name: 'run',
              inputs: {
                runCommand: [
                  `export PGDATA='${c.pgdata}'`,
                  ...SCRIPT_PARAMS.map((p) => `export ${p}='{{ ${p} }}'`),
                  body,
                ],
                timeoutSeconds: '900',
              },
            },
          ],
        },
      });
    }

    // The passfile a re-point names must exist on every node before the first failover: State Manager runs
    // write-passfile on each node at deployment and again every 30 minutes (a rotated password reaches the hosts).
    const passfileAssoc = new ssm.CfnAssociation(this, 'WritePassfile', {
      name: `pgquorum-${c.cluster}-write-passfile`,
      associationName: `pgquorum-${c.cluster}-write-passfile`,
      targets: [{ key: 'InstanceIds', values: c.nodes.map((n) => n.instanceId) }],
      parameters: {
        REPL_USER: [c.replicationUser],
        REWIND_USER: [c.rewindUser],
        SECRET_ID: [hostSecret.secretArn],
      },
      scheduleExpression: 'rate(30 minutes)',
    });
    const passfileDoc = this.node.tryFindChild('DocWritePassfile');
    if (passfileDoc) passfileAssoc.node.addDependency(passfileDoc);

    // Seed the lease and the node registry once (a redeploy never resets them).
    const seedItems = [
      {
        pk: { S: `CLUSTER#${c.cluster}` },
        sk: { S: 'LEASE' },
        epoch: { N: '1' },
        state: { S: 'steady' },
        primary: { S: c.initialPrimary },
        holder: { NULL: true },
        leaseUntil: { N: '0' },
        reason: { S: 'initial deployment' },
        updatedAt: { N: '0' },
        lastFailoverAt: { NULL: true },
      },
      ...c.nodes.map((n) => ({
        pk: { S: `CLUSTER#${c.cluster}` },
        sk: { S: `NODE#${n.name}` },
        name: { S: n.name },
        instanceId: { S: n.instanceId },
        az: { S: n.az },
        privateIp: { S: n.privateIp },
        host: { S: n.privateIp },
        port: { N: String(n.port) },
        securityGroupId: { S: n.securityGroupId },
        role: { S: n.name === c.initialPrimary ? 'primary' : 'replica' },
        status: { S: 'healthy' },
        noFailover: { BOOL: n.noFailover },
      })),
    ];
    seedItems.forEach((item, i) => {
      new cr.AwsCustomResource(this, `Seed${i}`, {
        onCreate: {
          service: 'DynamoDB',
          action: 'putItem',
          parameters: { TableName: this.table.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' },
          physicalResourceId: cr.PhysicalResourceId.of(`${c.cluster}-${item.sk.S}`),
          ignoreErrorCodesMatching: 'ConditionalCheckFailedException',
        },
        policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [this.table.tableArn] }),
        installLatestAwsSdk: false,
      });
    });

    new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `pgquorum-${c.cluster}`,
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'Primary reachable, per probe AZ',
            left: reach.map(([, m]) => m),
            width: 12,
          }),
          new cloudwatch.GraphWidget({ title: 'AZs that cannot reach the primary', left: [downAzs], width: 12 }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Replica lag (bytes)',
            left: [
              new cloudwatch.Metric({
                namespace: NAMESPACE,
                metricName: 'ReplicaLagBytes',
                dimensionsMap: { Cluster: c.cluster },
                statistic: 'Maximum',
              }),
            ],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Failover / switchover duration (ms)',
            left: ['failover', 'switchover'].map(
              (k) =>
                new cloudwatch.Metric({
                  namespace: NAMESPACE,
                  metricName: 'FailoverDuration',
                  dimensionsMap: { Cluster: c.cluster, Kind: k },
                  statistic: 'Maximum',
                }),
            ),
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Bytes at risk per failover',
            left: [
              new cloudwatch.Metric({
                namespace: NAMESPACE,
                metricName: 'BytesAtRisk',
                dimensionsMap: { Cluster: c.cluster },
                statistic: 'Maximum',
              }),
            ],
            width: 8,
          }),
        ],
      ],
    });

    // What the CLI (`pgquorum --stack <name>`) reads with one DescribeStacks call: no lambda:ListFunctions needed.
    const outputs: Record<string, [string, string]> = {
      ClusterName: [c.cluster, 'Cluster this controller manages'],
      // Informational: DescribeStacks is regional, so the CLI already knows it; kept for scripts and runbooks.
      Region: [this.region, 'Region of the controller and of every resource named here'],
      TableName: [this.table.tableName, 'DynamoDB table: lease, votes, node registry, history'],
      StateMachineArn: [this.stateMachine.stateMachine.stateMachineArn, 'Failover and switchover state machine'],
      HostedZoneId: [c.hostedZoneId, 'Private hosted zone of the writer and reader records'],
      WriterRecord: [records.writer, 'Record that always names the primary'],
      ReaderRecord: [records.reader, 'Record that names the healthy replicas'],
      TopicArn: [topic.topicArn, 'Notifications (committed runs, needs-attention, alarms)'],
      DbSecretArn: [secret.secretArn, "The controller's database credentials"],
      // The TLS mode the functions connect with (PGQ_DB_SSL=require): the CLI connects the same way.
      DbSslMode: ['require', 'TLS mode of connections to the nodes (disable, require, verify-ca, verify-full)'],
      Settings: [settings, 'Controller thresholds as deployed (JSON)'],
      ValidateInputFunction: [
        this.functions['validate-input'].functionName,
        'ValidateInput step (operator pre-checks)',
      ],
      RejoinFunction: [this.functions['rejoin-old-primary'].functionName, 'Rejoin step (`pgquorum rejoin`)'],
      SettleRejoinFunction: [
        this.functions['settle-rejoin'].functionName,
        'Settle step after a rejoin (reader record)',
      ],
    };
    for (const [id, [value, description]] of Object.entries(outputs)) new CfnOutput(this, id, { value, description });

    this.suppressFindings();
  }

  /**
   * The endpoints the in-VPC functions call: DynamoDB through a gateway endpoint (free, on the probe subnets'
   * route tables), the rest through interface endpoints with private DNS, so the SDK's default endpoints resolve
   * to them. Which function needs which: every one reads the secret and writes the table and metrics; probes
   * start executions (states) and notify (sns); fence, verify-fence and rejoin call EC2; fence, rejoin, stop and
   * restart send SSM commands.
   */
  private addEndpoints(vpc: ec2.IVpc, subnets: ec2.ISubnet[], fnSg: ec2.ISecurityGroup, routeTableIds?: string[]) {
    if (routeTableIds) {
      vpc.addGatewayEndpoint('DdbEndpoint', {
        service: ec2.GatewayVpcEndpointAwsService.DYNAMODB,
        subnets: [{ subnets }],
      });
    } else {
      Annotations.of(this).addWarningV2(
        'pgquorum:ddb-endpoint',
        'probeSubnets[].routeTableId not given: no DynamoDB gateway endpoint is created; the in-VPC functions need one (or a NAT) to reach the table.',
      );
    }
    const endpointSg = new ec2.SecurityGroup(this, 'EndpointSg', {
      vpc,
      description: 'pgquorum interface endpoints',
      allowAllOutbound: false,
    });
    endpointSg.addIngressRule(fnSg, ec2.Port.tcp(443), 'controller functions');
    // No CloudWatch endpoint: metrics leave as EMF log lines through Lambda's own log pipe, not the API.
    for (const [id, svc] of [
      ['Ssm', ec2.InterfaceVpcEndpointAwsService.SSM],
      ['States', ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS],
      ['Secrets', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
      ['Ec2', ec2.InterfaceVpcEndpointAwsService.EC2],
      ['Sns', ec2.InterfaceVpcEndpointAwsService.SNS],
    ] as const) {
      vpc.addInterfaceEndpoint(`${id}Endpoint`, {
        service: svc,
        subnets: { subnets },
        securityGroups: [endpointSg],
        privateDnsEnabled: true,
      });
    }
  }

  /** cdk-nag findings that are deliberate, each with its reason (cdk-nag v3: one acknowledgement per finding). */
  private suppressFindings(): void {
    const ack = (id: string, reason: string) => Validations.of(this).acknowledge({ id: `AwsSolutions-${id}`, reason });
    ack(
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'The AWS-managed basic execution role is the documented minimum for Lambda to write its logs.',
    );
    ack(
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      'The AWS-managed VPC access role is the documented minimum for a Lambda to manage its ENIs in the VPC.',
    );
    ack(
      'IAM5[Resource::*]',
      'Only actions AWS cannot scope to a resource: ec2:DescribeSecurityGroups, ec2:DescribeInstances, ssm:GetCommandInvocation, cloudwatch:PutMetricData (limited by a namespace condition), X-Ray trace upload and Step Functions log delivery.',
    );
    ack(
      'IAM5[Resource::arn:<AWS::Partition>:route53:::change/*]',
      'route53:GetChange has no per-zone scoping: change ids are global.',
    );
    for (const f of Object.values(this.functions)) {
      const id = this.getLogicalId(f.node.defaultChild as lambda.CfnFunction);
      ack(
        `IAM5[Resource::<${id}.Arn>:*]`,
        'Step Functions invokes any version or alias of its own task function (the LambdaInvoke default).',
      );
    }
    ack(
      'L1',
      'nodejs22.x is pinned on purpose: the handlers are built and tested for Node 20/22 and the SDK they ship with.',
    );
    ack(
      'SMG4',
      'PostgreSQL credentials are rotated by the database team together with the roles on the nodes; pgquorum only reads them.',
    );
  }
}

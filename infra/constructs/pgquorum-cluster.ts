import fs from 'node:fs';
import path from 'node:path';
import { type Acknowledgment, type Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct, type IConstruct } from 'constructs';
import type { z } from 'zod';
import { recordName, ssmDocumentName, ssmDocumentPrefix, TABLE_KEYS } from '../../lambdas/core/contract';
import { type ControllerSettings, settingsSchema } from '../../lambdas/core/settings';
import { caBundleKind, type DbSslMode, effectiveSslMode, tlsConfigProblems } from '../../lambdas/core/tls';
import { clusterIssues, inCidr, issuePath } from '../cluster-rules';
import { deployConfigSchema, nodeConfigSchema } from '../config';
import { handlerCode } from './cluster-assets';
import { ClusterMonitoring } from './cluster-monitoring';
import { ClusterNetwork } from './cluster-network';
import { BUNDLED_CA_FILE, ControllerFunctions, type FunctionContext } from './controller-functions';
import { FailoverStateMachine } from './failover-state-machine';
import { HostCommandDocuments } from './host-command-documents';
import { ProbeFleet } from './probe-fleet';
import { QuorumBackstop } from './quorum-backstop';
import { RegistrySeed } from './registry-seed';
import { TASKS, type TaskName } from './tasks';

/** One PostgreSQL node of the cluster (an EC2 instance the construct does not own). */
export interface PgQuorumNode {
  /** Node name: lowercase letters, digits and `_`; also its replication slot and application_name. */
  readonly name: string;
  /** EC2 instance id (host commands go to it through SSM; STONITH stops it). */
  readonly instanceId: string;
  /** Availability zone of the node: one of the probe subnets' AZs. */
  readonly az: string;
  /** Private IP: the controller connects here (never through DNS); the writer record points here. */
  readonly privateIp: string;
  /**
   * PostgreSQL port.
   * @default 5432
   */
  readonly port?: number;
  /** The node's own security group: the fence revokes its ingress, so no other instance may share it. */
  readonly securityGroup: ec2.ISecurityGroup;
  /**
   * Never promote this node (say, a reporting replica).
   * @default false
   */
  readonly noFailover?: boolean;
  /**
   * The host name the node's certificate carries, checked under `verify-full` instead of its IP address (and used
   * as libpq's `host=` with `hostaddr=` the IP, so replicas report it as their upstream).
   * @default the IP SAN (privateIp)
   */
  readonly tlsServerName?: string;
}

/** Properties of {@link PgQuorumCluster}. */
export interface PgQuorumClusterProps {
  /** Cluster name: names the SSM documents, the dashboard and the DynamoDB partition (lowercase, digits, `-`). */
  readonly clusterName: string;
  /** VPC of the nodes. */
  readonly vpc: ec2.IVpc;
  /**
   * Exactly three private subnets of `vpc` in three distinct AZs: one probe runs in each, and the in-VPC functions
   * and endpoints use them. A DynamoDB gateway endpoint needs their route tables.
   */
  readonly probeSubnets: readonly ec2.ISubnet[];
  /** The PostgreSQL nodes: a primary and at least one replica. */
  readonly nodes: readonly PgQuorumNode[];
  /** The node that is primary at first deployment (seeds the lease; never reset by a redeploy). */
  readonly initialPrimary: string;
  /** Private hosted zone of the writer and reader records; its name must be known at synth time. */
  readonly hostedZone: route53.IPrivateHostedZone;
  /**
   * Label of the writer record (`<writerRecord>.<zone name>`).
   * @default 'writer'
   */
  readonly writerRecord?: string;
  /**
   * Label of the reader record.
   * @default 'reader'
   */
  readonly readerRecord?: string;
  /**
   * TTL of both records: clients re-resolve this fast after a flip (1 to 300 s).
   * @default Duration.seconds(5)
   */
  readonly recordTtl?: Duration;
  /**
   * Secret `{username, password, replicationUsername, replicationPassword}` of the controller's PostgreSQL roles.
   * @default a new generated secret
   */
  readonly dbSecret?: secretsmanager.ISecret;
  /**
   * Secret `{replicationPassword, rewindPassword?}` of the replication and rewind roles: all the host scripts read,
   * and the only secret the host policy may read. A second secret because IAM grants a whole secret, never one of
   * its keys: with one secret the hosts could read the controller's password.
   * @default a new generated secret (one password for both host roles; `rewindPassword` falls back to it)
   */
  readonly hostSecret?: secretsmanager.ISecret;
  /**
   * The REPLICATION role replicas stream as and pg_basebackup copies as.
   * @default 'replicator'
   */
  readonly replicationUser?: string;
  /**
   * The role pg_rewind reads the new primary as (EXECUTE on pg_rewind's file functions, no superuser).
   * @default 'pgquorum_rewind'
   */
  readonly rewindUser?: string;
  /**
   * Sources a rejoin may re-authorize on a node's security group from its fence snapshot; any other rule in the
   * snapshot (a tampered table item) is left out.
   * @default the VPC's CIDR, no security groups
   */
  readonly allowedIngress?: { readonly cidrs?: readonly string[]; readonly securityGroupIds?: readonly string[] };
  /**
   * Notifications (committed runs, needs-attention) and every alarm's action.
   * @default a new topic encrypted with the AWS-managed SNS key
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Controller thresholds (lambdas/core/settings.ts); each field left out takes its default.
   * @default the defaults of every field
   */
  readonly thresholds?: z.input<typeof settingsSchema>;
  /**
   * Create the endpoints the in-VPC functions need (a DynamoDB gateway; interface endpoints for SSM, Step
   * Functions, Secrets Manager, EC2, SNS). Set false when the VPC already has them with private DNS.
   * @default true
   */
  readonly createVpcEndpoints?: boolean;
  /**
   * Data directory on the nodes (host scripts): an absolute path of letters, digits and `. _ - /`.
   * @default '/var/lib/postgresql/15/main'
   */
  readonly pgdata?: string;
  /**
   * TLS of every connection to the nodes (functions, probes, CLI, replication, pg_rewind, pg_basebackup), as libpq
   * means it.
   * @default 'verify-full' when dbCaBundle is given, else 'require'
   */
  readonly dbSslMode?: DbSslMode;
  /**
   * The CA bundle the nodes' certificates chain to: a PEM file (bundled with the functions and published to the
   * hosts as an SSM parameter), or the ARN of a Secrets Manager secret or SSM parameter holding the PEM.
   * @default no CA (only `disable` or `require` are then allowed)
   */
  readonly dbCaBundle?: string;
  /**
   * Where the CA bundle lives on each node (the conninfo's sslrootcert); the host scripts write it from the
   * bundle's parameter or secret when it is missing.
   * @default '/etc/pgquorum/db-ca.pem'
   */
  readonly dbHostCaFile?: string;
}

/** Constructs that group resources but add no path component to logical ids under PgQuorumStack. */
const GROUPING = new WeakSet<IConstruct>();

/**
 * True for the PgQuorumCluster itself and its direct parts (network, functions, probes...): PgQuorumStack leaves
 * them out of its logical ids, so a stack deployed before the construct existed keeps every resource.
 */
export function isGroupingScope(c: IConstruct): boolean {
  return GROUPING.has(c);
}

/**
 * pgquorum for one PostgreSQL cluster, inside a stack of your own: the vote/lease table, three probes (one per
 * AZ), the failover/switchover state machine and its task functions, the alarm backstop, host-command documents,
 * notifications and the dashboard. The nodes, their security groups, the VPC and the hosted zone stay yours.
 */
export class PgQuorumCluster extends Construct {
  /** The lease, votes, node registry and history (retained, deletion-protected). */
  readonly table: dynamodb.Table;
  /** The failover and switchover state machine. */
  readonly stateMachine: sfn.StateMachine;
  /** The state machine's construct (its definition and task wiring). */
  readonly workflow: FailoverStateMachine;
  /** The task functions, by task name. */
  readonly functions: Record<TaskName, lambda.Function>;
  /** One probe function per probe subnet, in subnet order. */
  readonly probes: lambda.Function[];
  /** Attach to the PostgreSQL instances' role: the host scripts read the database secret with it. */
  readonly hostPolicy: iam.ManagedPolicy;
  /** Every alarm, by name; `QuorumDown` is the backstop that starts a failover, the others page. */
  readonly alarms: Readonly<Record<string, cloudwatch.Alarm>>;
  /** The backstop alarm (also in `alarms` as `QuorumDown`). */
  readonly quorumAlarm: cloudwatch.Alarm;
  /** The controller's database credentials. */
  readonly dbSecret: secretsmanager.ISecret;
  /** The replication and rewind credentials: the hosts read them, the functions only name them (SECRET_ID). */
  readonly hostSecret: secretsmanager.ISecret;
  /** Notifications and alarm actions. */
  readonly alarmTopic: sns.ITopic;
  /** The validated thresholds, every default filled in. */
  readonly settings: ControllerSettings;
  /** Fully qualified writer and reader record names. */
  readonly records: { readonly writer: string; readonly reader: string };
  readonly clusterName: string;
  /** The controller functions' security group: admit it on each node's PostgreSQL port. */
  readonly controllerSecurityGroup: ec2.ISecurityGroup;
  /** The TLS mode every connection to the nodes uses (PGQ_DB_SSL_MODE; the stack's DbSslMode output). */
  readonly dbSslMode: DbSslMode;
  /** Where functions and hosts read the CA from (an SSM parameter or secret ARN), when a CA is configured. */
  readonly dbCaSource?: string;
  /** Each node's certificate name where it is not its address (props.nodes[].tlsServerName), by node name. */
  readonly nodeTlsNames: Readonly<Record<string, string>>;
  private readonly hostedZoneId: string;
  private readonly vpcCidr: string;
  private readonly endpointSecurityGroup?: ec2.ISecurityGroup;

  constructor(scope: Construct, id: string, props: PgQuorumClusterProps) {
    super(scope, id);
    GROUPING.add(this);
    const v = validateProps(props);
    this.clusterName = props.clusterName;
    this.settings = v.settings;
    this.records = v.records;
    this.hostedZoneId = props.hostedZone.hostedZoneId;
    const cluster = props.clusterName;
    const part = <T extends Construct>(c: T): T => {
      GROUPING.add(c);
      return c;
    };

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE_KEYS.timeToLive,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const secret =
      props.dbSecret ??
      new secretsmanager.Secret(this, 'DbSecret', {
        description: `pgquorum ${cluster}: the controller's PostgreSQL credentials (not readable by the hosts)`,
        generateSecretString: {
          secretStringTemplate: JSON.stringify({ username: 'pgquorum', replicationUsername: 'replicator' }),
          generateStringKey: 'password',
          excludePunctuation: true,
        },
      });
    this.dbSecret = secret;

    // The hosts' own secret (see props.hostSecret). Generated with one password for both host roles (Secrets
    // Manager generates one key); both are read only by the hosts, so a second one would protect nothing from a
    // host that holds both. Give `rewindPassword` its own value to rotate it apart.
    const hostSecret =
      props.hostSecret ??
      new secretsmanager.Secret(this, 'HostSecret', {
        description: `pgquorum ${cluster}: replication and rewind credentials, read by the PostgreSQL hosts`,
        generateSecretString: {
          secretStringTemplate: JSON.stringify({
            replicationUsername: v.replicationUser,
            rewindUsername: v.rewindUser,
          }),
          generateStringKey: 'replicationPassword',
          excludePunctuation: true,
        },
      });
    this.hostSecret = hostSecret;

    // For the PostgreSQL instances' role: host scripts read the passwords themselves (SECRET_ID), because SSM keeps
    // every command parameter in its history. The construct does not own the instances, so it exposes the policy.
    this.hostPolicy = new iam.ManagedPolicy(this, 'HostPolicy', {
      description: `pgquorum ${cluster}: attach to the PostgreSQL instances' role (host scripts read the hosts' secret)`,
      statements: [
        new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          resources: [hostSecret.secretFullArn ?? `${hostSecret.secretArn}-??????`],
        }),
      ],
    });

    // The CA the nodes' certificates chain to. A file is bundled with every function built from source (no call at
    // cold start) and published as an SSM parameter for the hosts, whose scripts write it to dbHostCaFile when it is
    // missing; a secret or parameter ARN is read by both. The CA is no secret: only its integrity matters.
    this.dbSslMode = v.sslMode;
    const caKind = props.dbCaBundle ? caBundleKind(props.dbCaBundle) : undefined;
    const caFile = caKind === 'file' ? path.resolve(props.dbCaBundle!) : undefined;
    const caParam = caFile
      ? new ssm.StringParameter(this, 'DbCaBundleParameter', {
          parameterName: `/pgquorum/${cluster}/db-ca-bundle`,
          description: `pgquorum ${cluster}: CA bundle of the PostgreSQL nodes' certificates (host scripts)`,
          stringValue: fs.readFileSync(caFile, 'utf8'),
          // A standard parameter holds 4 KB; a bundle of a few certificates does not fit.
          tier: fs.statSync(caFile).size > 4096 ? ssm.ParameterTier.ADVANCED : ssm.ParameterTier.STANDARD,
        })
      : undefined;
    this.dbCaSource = caParam ? caParam.parameterArn : props.dbCaBundle;
    const caRead = (grantee: iam.IGrantable) => {
      if (caParam) caParam.grantRead(grantee);
      else if (caKind === 'parameter') {
        iam.Grant.addToPrincipal({ grantee, actions: ['ssm:GetParameter'], resourceArns: [props.dbCaBundle!] });
      } else if (caKind === 'secret') {
        iam.Grant.addToPrincipal({
          grantee,
          actions: ['secretsmanager:GetSecretValue'],
          // A secret's complete ARN ends in six random characters; a partial one needs them matched.
          resourceArns: [/-[A-Za-z0-9]{6}$/.test(props.dbCaBundle!) ? props.dbCaBundle! : `${props.dbCaBundle}-??????`],
        });
      }
    };
    caRead(this.hostPolicy);
    // An installed package's prebuilt bundles cannot take the file: those functions read the parameter instead.
    const caBundled = caFile !== undefined && 'source' in handlerCode(TASKS['validate-input'].entry);
    const tlsNames = v.nodes.filter((n) => n.tlsServerName);
    this.nodeTlsNames = Object.fromEntries(tlsNames.map((n) => [n.name, n.tlsServerName!]));

    const topic =
      props.alarmTopic ??
      new sns.Topic(this, 'Alerts', {
        displayName: `pgquorum ${cluster}`,
        masterKey: kms.Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
        enforceSSL: true,
      });
    this.alarmTopic = topic;

    const network = part(
      new ClusterNetwork(this, 'Network', {
        vpc: props.vpc,
        subnets: props.probeSubnets,
        nodes: v.nodes,
        createVpcEndpoints: props.createVpcEndpoints,
      }),
    );

    this.controllerSecurityGroup = network.securityGroup;
    this.endpointSecurityGroup = network.endpointSecurityGroup;
    this.vpcCidr = props.vpc.vpcCidrBlock;

    const context: FunctionContext = {
      cluster,
      table: this.table,
      secret,
      topic,
      vpc: props.vpc,
      subnets: props.probeSubnets,
      securityGroup: network.securityGroup,
      hostedZoneId: this.hostedZoneId,
      records: this.records,
      nodes: v.nodes,
      ...(caBundled ? { caFile } : {}),
      caRead,
      environment: {
        PGQ_CLUSTER: cluster,
        PGQ_TABLE: this.table.tableName,
        PGQ_ZONE_ID: this.hostedZoneId,
        PGQ_WRITER_RECORD: this.records.writer,
        PGQ_READER_RECORD: this.records.reader,
        PGQ_RECORD_TTL: String(v.recordTtlSec),
        PGQ_SETTINGS: JSON.stringify(this.settings),
        PGQ_DB_SECRET_ARN: secret.secretArn,
        PGQ_DB_SSL_MODE: v.sslMode,
        ...(this.dbCaSource ? { PGQ_DB_CA_BUNDLE: caBundled ? BUNDLED_CA_FILE : this.dbCaSource } : {}),
        ...(tlsNames.length
          ? { PGQ_NODE_TLS_NAMES: JSON.stringify(Object.fromEntries(tlsNames.map((n) => [n.name, n.tlsServerName]))) }
          : {}),
        PGQ_HOST_CA_FILE: v.hostCaFile,
        // Named, never read by the functions: host commands send it as SECRET_ID.
        PGQ_HOST_SECRET_ARN: hostSecret.secretArn,
        PGQ_REPL_USER: v.replicationUser,
        PGQ_REWIND_USER: v.rewindUser,
        // What the table's NODE# items and fence snapshots are checked against before use (issue 15).
        PGQ_NODES: JSON.stringify(
          v.nodes.map((n) => ({ name: n.name, host: n.privateIp, port: n.port, securityGroupId: n.securityGroupId })),
        ),
        PGQ_ALLOWED_INGRESS: JSON.stringify({
          cidrs: props.allowedIngress?.cidrs ?? [props.vpc.vpcCidrBlock],
          securityGroupIds: props.allowedIngress?.securityGroupIds ?? [],
        }),
        PGQ_SSM_DOCUMENT_PREFIX: ssmDocumentPrefix(cluster),
        PGQ_PGDATA: v.pgdata,
        PGQ_TOPIC_ARN: topic.topicArn,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
    };
    this.functions = part(new ControllerFunctions(this, 'Functions', { context })).functions;

    const smLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.workflow = new FailoverStateMachine(this, 'Failover', { functions: this.functions, logGroup: smLogs });
    this.stateMachine = this.workflow.stateMachine;

    this.probes = part(
      new ProbeFleet(this, 'Probes', { context, subnets: props.probeSubnets, stateMachine: this.stateMachine }),
    ).probes;

    const probeAzs = props.probeSubnets.map((s) => s.availabilityZone);
    const backstop = part(new QuorumBackstop(this, 'Backstop', { cluster, probeAzs, stateMachine: this.stateMachine }));
    this.quorumAlarm = backstop.alarm;
    const monitoring = part(
      new ClusterMonitoring(this, 'Monitoring', {
        cluster,
        probeAzs,
        settings: this.settings,
        stateMachine: this.stateMachine,
        backstop,
        topic,
      }),
    );
    this.alarms = { QuorumDown: backstop.alarm, ...monitoring.alarms };

    const hostCommands = part(
      new HostCommandDocuments(this, 'HostCommands', {
        cluster,
        pgdata: v.pgdata,
        sslMode: v.sslMode,
        hostCaFile: v.hostCaFile,
        ...(this.dbCaSource ? { caSource: this.dbCaSource } : {}),
      }),
    );
    // The passfile a re-point names must exist on every node before the first failover: State Manager runs
    // write-passfile on each node at deployment and again every 30 minutes (a rotated password reaches the hosts).
    const passfileAssoc = new ssm.CfnAssociation(this, 'WritePassfile', {
      name: ssmDocumentName(ssmDocumentPrefix(cluster), 'write-passfile'),
      associationName: ssmDocumentName(ssmDocumentPrefix(cluster), 'write-passfile'),
      targets: [{ key: 'InstanceIds', values: v.nodes.map((n) => n.instanceId) }],
      parameters: {
        REPL_USER: [v.replicationUser],
        REWIND_USER: [v.rewindUser],
        SECRET_ID: [hostSecret.secretArn],
      },
      scheduleExpression: 'rate(30 minutes)',
    });
    const passfileDoc = hostCommands.documents['write-passfile'];
    if (passfileDoc) passfileAssoc.node.addDependency(passfileDoc);

    part(
      new RegistrySeed(this, 'Registry', {
        cluster,
        table: this.table,
        initialPrimary: props.initialPrimary,
        nodes: v.nodes,
      }),
    );
  }

  /**
   * Acknowledges the cdk-nag AwsSolutions findings on the cluster that are deliberate, each with its reason (cdk-nag
   * v3: one acknowledgement per finding). They go on the cluster's stack: the custom resource provider that seeds
   * the registry is a stack-level singleton, outside the cluster's own scope.
   */
  acknowledgeNagFindings(): void {
    const stack = Stack.of(this);
    for (const a of this.nagAcknowledgements()) Validations.of(stack).acknowledge(a);
    if (this.endpointSecurityGroup && Token.isUnresolved(this.vpcCidr)) {
      Validations.of(this.endpointSecurityGroup).acknowledge({
        id: 'AwsSolutions-EC23',
        reason:
          "The interface endpoints admit the VPC's own CIDR on 443 (the nodes' SSM agent and host scripts reach them through private DNS); cdk-nag cannot evaluate a CIDR that is a token.",
      });
    }
  }

  /** The acknowledgements {@link acknowledgeNagFindings} applies to the stack. */
  nagAcknowledgements(): Acknowledgment[] {
    const stack = Stack.of(this);
    const ack = (id: string, reason: string): Acknowledgment => ({ id: `AwsSolutions-${id}`, reason });
    return [
      ack(
        'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        'The AWS-managed basic execution role is the documented minimum for Lambda to write its logs.',
      ),
      ack(
        'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        'The AWS-managed VPC access role is the documented minimum for a Lambda to manage its ENIs in the VPC.',
      ),
      ack(
        'IAM5[Resource::*]',
        'Only actions AWS cannot scope to a resource: ec2:DescribeSecurityGroups, ec2:DescribeInstances, ssm:DescribeInstanceInformation, ssm:GetCommandInvocation, cloudwatch:PutMetricData (limited by a namespace condition), X-Ray trace upload and Step Functions log delivery.',
      ),
      ack(
        'IAM5[Resource::arn:<AWS::Partition>:route53:::change/*]',
        'route53:GetChange has no per-zone scoping: change ids are global.',
      ),
      ...Object.values(this.functions).map((f) =>
        ack(
          `IAM5[Resource::<${stack.getLogicalId(f.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
          'Step Functions invokes any version or alias of its own task function (the LambdaInvoke default).',
        ),
      ),
      ack(
        'L1',
        'nodejs22.x is pinned on purpose: the bundles target node22 (controller-functions.ts) with the SDK they ship, and the lab runs those same bundles; a newer runtime is a tested change, not a default.',
      ),
      ack(
        'SMG4',
        "DbSecret (the controller's role) and HostSecret (the replication and rewind roles) hold PostgreSQL role passwords: rotating one means ALTER ROLE on the primary too, which needs a privileged session pgquorum deliberately does not hold. The operator rotates them (docs/upgrading.md: the secret, then the write-passfile association, then ALTER ROLE); the association carries a rotated HostSecret to every host within 30 minutes.",
      ),
    ];
  }

  /**
   * The rights the operator CLI (`pgquorum --stack`) needs: read the stack's outputs, read and write the table (the
   * lease commands write the lease), start and follow executions, invoke the three steps the CLI calls directly,
   * read the database secret, and look at the security groups and the records it reports on.
   */
  grantOperate(grantee: iam.IGrantable): iam.Grant {
    const stack = Stack.of(this);
    return [
      this.table.grantReadWriteData(grantee),
      this.stateMachine.grantStartExecution(grantee),
      this.stateMachine.grantRead(grantee),
      this.dbSecret.grantRead(grantee),
      ...(['validate-input', 'rejoin-old-primary', 'settle-rejoin'] as const).map((t) =>
        this.functions[t].grantInvoke(grantee),
      ),
      iam.Grant.addToPrincipal({ grantee, actions: ['cloudformation:DescribeStacks'], resourceArns: [stack.stackId] }),
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['route53:ListResourceRecordSets'],
        resourceArns: [`arn:${stack.partition}:route53:::hostedzone/${this.hostedZoneId}`],
      }),
      // DescribeSecurityGroups has no resource-level scoping.
      iam.Grant.addToPrincipal({ grantee, actions: ['ec2:DescribeSecurityGroups'], resourceArns: ['*'] }),
    ].reduce((a, b) => a.combine(b));
  }
}

/** What validateProps derives from valid props. */
interface ValidProps {
  readonly settings: ControllerSettings;
  readonly records: { readonly writer: string; readonly reader: string };
  readonly recordTtlSec: number;
  readonly pgdata: string;
  readonly sslMode: DbSslMode;
  readonly hostCaFile: string;
  readonly replicationUser: string;
  readonly rewindUser: string;
  readonly nodes: {
    tlsServerName?: string;
    name: string;
    instanceId: string;
    az: string;
    privateIp: string;
    port: number;
    securityGroupId: string;
    noFailover: boolean;
  }[];
}

/**
 * Checks the props with the same field schemas and cross-field rules as the cdk.json configuration; throws one
 * sentence naming the first bad prop. Tokens (values known only at deploy time) are not checked.
 */
function validateProps(p: PgQuorumClusterProps): ValidProps {
  // Declared with its type so a call narrows like a throw (TypeScript only narrows through annotated never-returners).
  const fail: (path: string, message: string) => never = (path, message) => {
    throw new Error(`PgQuorumCluster: invalid props.${path}: ${message}.`);
  };
  const check = <T>(schema: z.ZodType<T>, value: unknown, path: string): T => {
    const r = schema.safeParse(value);
    if (r.success) return r.data;
    const issue = r.error.issues[0]!;
    return fail(issue.path.length ? `${path}.${issuePath(issue.path)}` : path, issue.message);
  };
  const unresolved = (x: unknown) => Token.isUnresolved(x);
  const shape = deployConfigSchema.shape;
  check(shape.cluster, p.clusterName, 'clusterName');
  if (p.probeSubnets.length !== 3)
    fail('probeSubnets', `exactly three probe subnets, one per AZ (got ${p.probeSubnets.length})`);
  if (p.nodes.length < 2) fail('nodes', 'at least a primary and one replica');
  const nodes = p.nodes.map((n, i) => {
    const at = `nodes[${i}]`;
    const ns = nodeConfigSchema.shape;
    check(ns.name, n.name, `${at}.name`);
    if (!unresolved(n.instanceId)) check(ns.instanceId, n.instanceId, `${at}.instanceId`);
    if (!unresolved(n.privateIp)) check(ns.privateIp, n.privateIp, `${at}.privateIp`);
    return {
      name: n.name,
      instanceId: n.instanceId,
      az: n.az,
      privateIp: n.privateIp,
      port: check(ns.port, n.port, `${at}.port`),
      securityGroupId: n.securityGroup.securityGroupId,
      noFailover: n.noFailover ?? false,
      ...(n.tlsServerName ? { tlsServerName: check(ns.tlsServerName, n.tlsServerName, `${at}.tlsServerName`) } : {}),
    };
  });
  const tlsProblem = tlsConfigProblems(p.dbSslMode, p.dbCaBundle)[0];
  if (tlsProblem) fail(tlsProblem.field === 'sslMode' ? 'dbSslMode' : 'dbCaBundle', tlsProblem.message);
  if (p.dbCaBundle && caBundleKind(p.dbCaBundle) === 'file' && !fs.existsSync(p.dbCaBundle))
    fail('dbCaBundle', `no file ${p.dbCaBundle}`);
  const hostCaFile = check(shape.dbHostCaFile, p.dbHostCaFile, 'dbHostCaFile');
  const replicationUser = check(shape.replicationUser, p.replicationUser, 'replicationUser');
  const rewindUser = check(shape.rewindUser, p.rewindUser, 'rewindUser');
  if (replicationUser === rewindUser) fail('rewindUser', 'must differ from replicationUser');
  if (p.hostSecret && p.dbSecret && p.hostSecret === p.dbSecret)
    fail('hostSecret', "must differ from dbSecret: the hosts may not read the controller's password");
  const vpcCidr = p.vpc.vpcCidrBlock;
  (p.allowedIngress?.cidrs ?? []).forEach((a, i) => {
    check(shape.allowedIngress.unwrap().shape.cidrs.unwrap().element, a, `allowedIngress.cidrs[${i}]`);
    const [base, bits] = a.split('/');
    if (!unresolved(vpcCidr) && !(inCidr(base!, vpcCidr) && Number(bits) >= Number(vpcCidr.split('/')[1])))
      fail(
        `allowedIngress.cidrs[${i}]`,
        `${a} is not inside the VPC's CIDR ${vpcCidr}: a rejoin would open the node to addresses outside the VPC`,
      );
  });
  const settings = check(settingsSchema, p.thresholds ?? {}, 'thresholds');
  const recordTtlSec = check(shape.recordTtlSec, p.recordTtl?.toSeconds(), 'recordTtl');
  const pgdata = check(shape.pgdata, p.pgdata, 'pgdata');
  const writer = check(shape.writerRecord, p.writerRecord, 'writerRecord');
  const reader = check(shape.readerRecord, p.readerRecord, 'readerRecord');
  let zoneName: string | undefined;
  try {
    zoneName = p.hostedZone.zoneName;
  } catch {
    // fromPrivateHostedZoneId: CDK throws on any read of the name.
  }
  // The records land in IAM conditions (normalized at synth time) and in every function's environment.
  if (zoneName === undefined || unresolved(zoneName))
    fail('hostedZone', 'its zone name must be known at synth time (import it with fromPrivateHostedZoneAttributes)');
  const issues = clusterIssues(
    {
      probeAzs: p.probeSubnets.map((s) => s.availabilityZone),
      nodes,
      initialPrimary: p.initialPrimary,
      vpcCidr: p.vpc.vpcCidrBlock,
      voteTtlMs: settings.voteTtlMs,
      probeIntervalMs: settings.probeIntervalMs,
    },
    unresolved,
  );
  const first = issues[0];
  if (first) fail(issuePath(first.path), first.message);
  return {
    settings,
    records: { writer: recordName(writer, zoneName), reader: recordName(reader, zoneName) },
    recordTtlSec,
    pgdata,
    sslMode: effectiveSslMode(p.dbSslMode, !!p.dbCaBundle),
    hostCaFile,
    replicationUser,
    rewindUser,
    nodes,
  };
}

import { type CfnElement, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import type { DeployConfig } from '../config';
import type { FailoverStateMachine } from '../constructs/failover-state-machine';
import { isGroupingScope, PgQuorumCluster } from '../constructs/pgquorum-cluster';
import type { TaskName } from '../constructs/tasks';

/** The construct id of a task's function (`fence` -> `TaskFence`); the lab deployer maps functions back with it. */
export { BUNDLED_CA_FILE, taskConstructId } from '../constructs/controller-functions';

/** Properties of the stack. */
export interface PgQuorumStackProps extends StackProps {
  readonly config: DeployConfig;
}

/**
 * pgquorum's own app: one PgQuorumCluster built from the cdk.json configuration, whose VPC, subnets, security
 * groups and hosted zone are imported by id, plus the outputs the CLI reads and the cdk-nag acknowledgements.
 */
export class PgQuorumStack extends Stack {
  /** The validated configuration the stack was built from. */
  readonly config: DeployConfig;
  readonly cluster: PgQuorumCluster;
  readonly table: dynamodb.Table;
  readonly stateMachine: FailoverStateMachine;
  readonly functions: Record<TaskName, lambda.Function>;
  readonly probes: lambda.Function[];
  readonly quorumAlarm: cloudwatch.Alarm;
  /** Attach to the PostgreSQL instances' role: the host scripts read the database secret with it. */
  readonly hostPolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: PgQuorumStackProps) {
    super(scope, id, props);
    const c = props.config;
    this.config = c;

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
    const dbSecret = c.dbSecretArn
      ? secretsmanager.Secret.fromSecretCompleteArn(this, 'DbSecret', c.dbSecretArn)
      : c.dbSecretName
        ? secretsmanager.Secret.fromSecretNameV2(this, 'DbSecret', c.dbSecretName)
        : undefined;

    const hostSecret = c.hostSecretArn
      ? secretsmanager.Secret.fromSecretCompleteArn(this, 'HostSecret', c.hostSecretArn)
      : c.hostSecretName
        ? secretsmanager.Secret.fromSecretNameV2(this, 'HostSecret', c.hostSecretName)
        : undefined;

    const cluster = new PgQuorumCluster(this, 'Cluster', {
      clusterName: c.cluster,
      vpc,
      probeSubnets: subnets,
      nodes: c.nodes.map((n) => ({
        name: n.name,
        instanceId: n.instanceId,
        az: n.az,
        privateIp: n.privateIp,
        port: n.port,
        noFailover: n.noFailover,
        ...(n.tlsServerName ? { tlsServerName: n.tlsServerName } : {}),
        securityGroup: ec2.SecurityGroup.fromSecurityGroupId(this, `NodeSg-${n.name}`, n.securityGroupId, {
          mutable: false,
        }),
      })),
      initialPrimary: c.initialPrimary,
      hostedZone: route53.PrivateHostedZone.fromPrivateHostedZoneAttributes(this, 'Zone', {
        hostedZoneId: c.hostedZoneId,
        zoneName: c.zoneName,
      }),
      writerRecord: c.writerRecord,
      readerRecord: c.readerRecord,
      recordTtl: Duration.seconds(c.recordTtlSec),
      ...(dbSecret ? { dbSecret } : {}),
      ...(hostSecret ? { hostSecret } : {}),
      replicationUser: c.replicationUser,
      rewindUser: c.rewindUser,
      allowedIngress: {
        ...(c.allowedIngress.cidrs ? { cidrs: c.allowedIngress.cidrs } : {}),
        securityGroupIds: c.allowedIngress.securityGroupIds,
      },
      thresholds: c.thresholds,
      createVpcEndpoints: c.createVpcEndpoints,
      pgdata: c.pgdata,
      ...(c.dbSslMode ? { dbSslMode: c.dbSslMode } : {}),
      ...(c.dbCaBundle ? { dbCaBundle: c.dbCaBundle } : {}),
      dbHostCaFile: c.dbHostCaFile,
    });
    this.cluster = cluster;
    this.table = cluster.table;
    this.stateMachine = cluster.workflow;
    this.functions = cluster.functions;
    this.probes = cluster.probes;
    this.quorumAlarm = cluster.quorumAlarm;
    this.hostPolicy = cluster.hostPolicy;
    if (c.alarmEmail) cluster.alarmTopic.addSubscription(new subs.EmailSubscription(c.alarmEmail));

    new CfnOutput(this, 'HostPolicyArn', {
      value: this.hostPolicy.managedPolicyArn,
      description: "Attach to the PostgreSQL instances' IAM role: lets pgquorum's host scripts read the hosts' secret",
    });
    new CfnOutput(this, 'HostSecretArn', {
      value: cluster.hostSecret.secretArn,
      description: 'The replication and rewind credentials (the hosts read them; the controller only names them)',
    });

    // What the CLI (`pgquorum --stack <name>`) reads with one DescribeStacks call: no lambda:ListFunctions needed.
    const outputs: Record<string, [string, string]> = {
      ClusterName: [c.cluster, 'Cluster this controller manages'],
      // Informational: DescribeStacks is regional, so the CLI already knows it; kept for scripts and runbooks.
      Region: [this.region, 'Region of the controller and of every resource named here'],
      TableName: [this.table.tableName, 'DynamoDB table: lease, votes, node registry, history'],
      StateMachineArn: [cluster.stateMachine.stateMachineArn, 'Failover and switchover state machine'],
      HostedZoneId: [c.hostedZoneId, 'Private hosted zone of the writer and reader records'],
      WriterRecord: [cluster.records.writer, 'Record that always names the primary'],
      ReaderRecord: [cluster.records.reader, 'Record that names the healthy replicas'],
      TopicArn: [cluster.alarmTopic.topicArn, 'Notifications (committed runs, needs-attention, alarms)'],
      DbSecretArn: [cluster.dbSecret.secretArn, "The controller's database credentials"],
      // The TLS mode the functions connect with (PGQ_DB_SSL_MODE): the CLI connects the same way.
      DbSslMode: [cluster.dbSslMode, 'TLS mode of connections to the nodes (disable, require, verify-ca, verify-full)'],
      // `none` without a CA: CloudFormation refuses an empty output, and the CLI reads every key it lists.
      DbCaBundle: [
        cluster.dbCaSource ?? 'none',
        "CA bundle of the nodes' certificates (SSM parameter or secret ARN), or none: the CLI verifies against it",
      ],
      // The CLI verifies a node by this name under verify-full, as the functions do (PGQ_NODE_TLS_NAMES).
      NodeTlsNames: [
        JSON.stringify(cluster.nodeTlsNames),
        "Each node's certificate name where it is not its address (JSON; {} when none)",
      ],
      Settings: [JSON.stringify(cluster.settings), 'Controller thresholds as deployed (JSON)'],
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
   * Logical ids as they were before the resources moved into PgQuorumCluster and its parts: the cluster and its
   * parts add no path component, so an existing deployment keeps its table, secret and every other resource
   * (CloudFormation replaces a resource whose logical id changes). A library user's stack does not do this.
   */
  protected override allocateLogicalId(element: CfnElement): string {
    const scopes = element.node.scopes.filter((s) => !isGroupingScope(s));
    return super.allocateLogicalId({ node: { scopes }, stack: this } as unknown as CfnElement);
  }

  /** cdk-nag findings that are deliberate, each with its reason (the cluster's list: see nagAcknowledgements). */
  private suppressFindings(): void {
    this.cluster.acknowledgeNagFindings();
  }
}

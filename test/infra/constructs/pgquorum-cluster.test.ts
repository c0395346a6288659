import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as sns from 'aws-cdk-lib/aws-sns';
import { PgQuorumCluster, type PgQuorumClusterProps } from '../../../infra/constructs/pgquorum-cluster';
import { testApp } from '../fixtures';

const AZS = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];

/** A stack with imported networking, and valid props of a three-node cluster in it (bundling skipped). */
function setup(): { stack: Stack; props: PgQuorumClusterProps } {
  const app = testApp();
  const stack = new Stack(app, 'S', { env: { account: '123456789012', region: 'eu-west-1' } });
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0a1b2c3d4e5f60718',
    vpcCidrBlock: '10.20.0.0/16',
    availabilityZones: AZS,
    privateSubnetIds: ['subnet-0aa1111111111111a', 'subnet-0bb2222222222222b', 'subnet-0cc3333333333333c'],
  });
  const probeSubnets = AZS.map((az, i) =>
    ec2.Subnet.fromSubnetAttributes(stack, `Sub${i}`, {
      subnetId: `subnet-0${i}${i}1111111111111a`,
      availabilityZone: az,
      routeTableId: `rtb-0${i}${i}1111111111111a`,
    }),
  );
  const nodes = AZS.map((az, i) => ({
    name: `pg${i + 1}`,
    instanceId: `i-0${i}a1a1a1a1a1a1a1a`,
    az,
    privateIp: `10.20.${i + 1}.10`,
    securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, `Sg${i}`, `sg-0${i}a1a1a1a1a1a1a1a`),
  }));
  const hostedZone = route53.PrivateHostedZone.fromPrivateHostedZoneAttributes(stack, 'Zone', {
    hostedZoneId: 'Z0123456789ABCDEFGHIJ',
    zoneName: 'orders.db.internal',
  });
  return {
    stack,
    props: { clusterName: 'orders', vpc, probeSubnets, nodes, initialPrimary: 'pg1', hostedZone },
  };
}

describe('PgQuorumCluster props', () => {
  const cases: [string, (p: PgQuorumClusterProps) => PgQuorumClusterProps, RegExp][] = [
    ['a bad cluster name', (p) => ({ ...p, clusterName: 'Orders!' }), /props\.clusterName: lowercase/],
    [
      'two probe subnets',
      (p) => ({ ...p, probeSubnets: p.probeSubnets.slice(0, 2) }),
      /props\.probeSubnets: exactly three/,
    ],
    ['one node', (p) => ({ ...p, nodes: p.nodes.slice(0, 1) }), /props\.nodes: at least a primary/],
    [
      'an unknown initial primary',
      (p) => ({ ...p, initialPrimary: 'pg9' }),
      /props\.initialPrimary: must be one of pg1, pg2, pg3/,
    ],
    [
      'a node outside the VPC',
      (p) => ({ ...p, nodes: p.nodes.map((n, i) => (i === 1 ? { ...n, privateIp: '10.99.0.1' } : n)) }),
      /props\.nodes\[1\]\.privateIp: 10\.99\.0\.1 is outside vpcCidr 10\.20\.0\.0\/16/,
    ],
    [
      'two nodes on one security group',
      (p) => ({ ...p, nodes: p.nodes.map((n) => ({ ...n, securityGroup: p.nodes[0]!.securityGroup })) }),
      /props\.nodes: each node needs its own security group/,
    ],
    [
      'a node in an AZ without a probe',
      (p) => ({ ...p, nodes: p.nodes.map((n, i) => (i === 2 ? { ...n, az: 'eu-west-1d' } : n)) }),
      /props\.nodes\[2\]\.az: eu-west-1d is not one of the probe AZs/,
    ],
    [
      'a stale-by-design vote TTL',
      (p) => ({ ...p, thresholds: { probeIntervalMs: 2000, voteTtlMs: 1000 } }),
      /props\.thresholds\.voteTtlMs: 1000 ms is shorter/,
    ],
    [
      'an out-of-range threshold',
      (p) => ({ ...p, thresholds: { failuresToDown: 0 } }),
      /props\.thresholds\.failuresToDown:/,
    ],
    ['a record TTL over 300 s', (p) => ({ ...p, recordTtl: Duration.minutes(10) }), /props\.recordTtl:/],
    [
      'a data directory with shell code',
      (p) => ({ ...p, pgdata: "/var/lib/pg'; rm -rf /" }),
      /props\.pgdata: an absolute path/,
    ],
    [
      'a hosted zone imported by id alone',
      (p) => ({
        ...p,
        hostedZone: route53.PrivateHostedZone.fromPrivateHostedZoneId(
          p.vpc.node.scope as Stack,
          `ZoneById${Math.random()}`,
          'Z0123456789ABCDEFGHIJ',
        ),
      }),
      /props\.hostedZone: its zone name must be known at synth time/,
    ],
  ];
  it.each(cases)('rejects %s with one sentence naming the prop', (_what, change, message) => {
    const { stack, props } = setup();
    expect(() => new PgQuorumCluster(stack, 'Cluster', change(props))).toThrow(message);
    expect(() => new PgQuorumCluster(stack, 'Cluster2', change(props))).toThrow(
      /^PgQuorumCluster: invalid props\.[^\n]*\.$/,
    );
  });

  it('accepts the valid props (the table cases above fail for their one change only)', () => {
    const { stack, props } = setup();
    expect(() => new PgQuorumCluster(stack, 'Cluster', props)).not.toThrow();
  });
});

describe('PgQuorumCluster', () => {
  it('names resources by the construct path in a stack of its own (no flattening outside PgQuorumStack)', () => {
    const { stack, props } = setup();
    new PgQuorumCluster(stack, 'Db', props);
    const tables = Template.fromStack(stack).findResources('AWS::DynamoDB::Table');
    expect(Object.keys(tables)).toEqual([expect.stringMatching(/^DbTable[0-9A-F]{8}$/)]);
  });

  it('grantOperate gives the CLI what it calls: outputs, table, executions, the three direct steps, the secret', () => {
    const { stack, props } = setup();
    const cluster = new PgQuorumCluster(stack, 'Db', props);
    const role = new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
    cluster.grantOperate(role);
    const t = Template.fromStack(stack);
    const policies = t.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: stack.getLogicalId(role.node.defaultChild as iam.CfnRole) }] },
    });
    const actions = Object.values(policies)
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .flatMap((s: { Action: string | string[] }) => [s.Action].flat());
    for (const a of [
      'cloudformation:DescribeStacks',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'states:StartExecution',
      'states:DescribeExecution',
      'lambda:InvokeFunction',
      'secretsmanager:GetSecretValue',
      'route53:ListResourceRecordSets',
      'ec2:DescribeSecurityGroups',
    ])
      expect(actions).toContain(a);
    // Invoke is limited to the three steps the CLI calls, not every task function.
    const invoke = Object.values(policies)
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((s: { Action: string | string[] }) => [s.Action].flat().includes('lambda:InvokeFunction'));
    const targets = JSON.stringify(invoke);
    for (const fn of ['validate-input', 'rejoin-old-primary', 'settle-rejoin'] as const)
      expect(targets).toContain(stack.getLogicalId(cluster.functions[fn].node.defaultChild as never));
    expect(targets).not.toContain(stack.getLogicalId(cluster.functions.promote.node.defaultChild as never));
  });

  it('uses a given topic instead of creating one', () => {
    const { stack, props } = setup();
    const alarmTopic = sns.Topic.fromTopicArn(stack, 'T', 'arn:aws:sns:eu-west-1:123456789012:mine');
    new PgQuorumCluster(stack, 'Db', { ...props, alarmTopic });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::SNS::Topic', 0);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmActions: Match.arrayWith(['arn:aws:sns:eu-west-1:123456789012:mine']),
    });
  });
});

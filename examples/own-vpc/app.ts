/**
 * A platform team's own CDK app with pgquorum inside it: the VPC, the hosted zone, the PostgreSQL instances and
 * their security groups are the team's constructs; PgQuorumCluster takes them as props. Synthesize it with
 * `npx cdk synth --app "npx tsx examples/own-vpc/app.ts"`. From the npm package, import the construct with
 * `import { PgQuorumCluster } from 'pgquorum/construct'`.
 */
import { App, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { PgQuorumCluster } from '../../infra/constructs/pgquorum-cluster';

const AZS = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];

/** The team's database stack: its own network and instances, and pgquorum managing them. */
export class OrdersDatabaseStack extends Stack {
  readonly vpc: ec2.Vpc;
  readonly zone: route53.PrivateHostedZone;
  readonly instances: ec2.Instance[];
  readonly nodeSecurityGroups: ec2.SecurityGroup[];
  readonly cluster: PgQuorumCluster;

  constructor(scope: Construct, id: string, props: StackProps) {
    super(scope, id, props);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.30.0.0/16'),
      availabilityZones: AZS,
      natGateways: 0,
      subnetConfiguration: [{ name: 'db', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      flowLogs: { all: { trafficType: ec2.FlowLogTrafficType.ALL } },
    });
    this.zone = new route53.PrivateHostedZone(this, 'Zone', { zoneName: 'orders.db.internal', vpc: this.vpc });

    const role = new iam.Role(this, 'PostgresRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    const subnets = this.vpc.isolatedSubnets;
    const nodes = subnets.map((subnet, i) => {
      const name = `pg${i + 1}`;
      // Each node has its own group: the fence empties it, which must cut off that node only.
      const securityGroup = new ec2.SecurityGroup(this, `${name}Sg`, {
        vpc: this.vpc,
        description: `PostgreSQL node ${name}`,
        allowAllOutbound: true,
      });
      // A fixed address inside the subnet: the writer record and the controller address the node by IP.
      const privateIp = subnet.ipv4CidrBlock.replace(/\.0\/24$/, '.10');
      const instance = new ec2.Instance(this, name, {
        vpc: this.vpc,
        vpcSubnets: { subnets: [subnet] },
        privateIpAddress: privateIp,
        instanceType: ec2.InstanceType.of(ec2.InstanceClass.M7G, ec2.InstanceSize.LARGE),
        machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 }),
        securityGroup,
        role,
        requireImdsv2: true,
        disableApiTermination: true,
        detailedMonitoring: true,
        blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(100, { encrypted: true }) }],
      });
      return { name, instance, securityGroup, az: subnet.availabilityZone, privateIp };
    });
    this.instances = nodes.map((n) => n.instance);
    this.nodeSecurityGroups = nodes.map((n) => n.securityGroup);

    this.cluster = new PgQuorumCluster(this, 'Quorum', {
      clusterName: 'orders',
      vpc: this.vpc,
      probeSubnets: subnets,
      nodes: nodes.map((n) => ({
        name: n.name,
        instanceId: n.instance.instanceId,
        az: n.az,
        privateIp: n.privateIp,
        securityGroup: n.securityGroup,
      })),
      initialPrimary: 'pg1',
      hostedZone: this.zone,
      thresholds: { replicationMode: 'sync' },
    });
    // The host scripts read the hosts' secret (never the controller's) and the CA parameter with the instances' own role.
    role.addManagedPolicy(this.cluster.hostPolicy);
    for (const n of nodes) {
      n.securityGroup.addIngressRule(this.cluster.controllerSecurityGroup, ec2.Port.tcp(5432), 'pgquorum controller');
      for (const peer of nodes.filter((p) => p !== n))
        n.securityGroup.addIngressRule(peer.securityGroup, ec2.Port.tcp(5432), `replication from ${peer.name}`);
    }

    // pgquorum's own deliberate findings (each with its reason), then this app's.
    this.cluster.acknowledgeNagFindings();
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      reason: 'The AWS-managed SSM core policy is the documented minimum for Run Command on the instances.',
    });
  }
}

/** The example app, cdk-nag AwsSolutions on every synth. */
export function buildExampleApp(app = new App()): { app: App; stack: OrdersDatabaseStack } {
  const stack = new OrdersDatabaseStack(app, 'OrdersDatabase', {
    env: { account: '111111111111', region: 'eu-west-1' },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stack };
}

if (require.main === module) buildExampleApp();

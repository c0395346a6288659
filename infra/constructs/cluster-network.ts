import { Annotations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

/** Properties of {@link ClusterNetwork}. */
export interface ClusterNetworkProps {
  readonly vpc: ec2.IVpc;
  /** The probe subnets: in-VPC functions run here and the endpoints are placed here. */
  readonly subnets: readonly ec2.ISubnet[];
  /** Nodes listening on a port other than 5432 get their own egress rule. */
  readonly nodes: readonly { readonly name: string; readonly privateIp: string; readonly port: number }[];
  /** @default true */
  readonly createVpcEndpoints?: boolean;
}

/**
 * The controller functions' security group and the VPC endpoints they call: DynamoDB through a gateway endpoint
 * (free, on the probe subnets' route tables), the rest through interface endpoints with private DNS, so the SDK's
 * default endpoints resolve to them. Route 53 has no VPC endpoint at all, which is why flip-dns (the only Route 53
 * writer during a failover) runs outside the VPC. CloudWatch Logs and X-Ray need none either: Lambda ships logs and
 * traces itself, outside the function's network.
 */
export class ClusterNetwork extends Construct {
  /** The controller functions' security group: PostgreSQL to the nodes, HTTPS to the endpoints. */
  readonly securityGroup: ec2.SecurityGroup;
  /** The interface endpoints' group, when the endpoints are created. */
  readonly endpointSecurityGroup?: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: ClusterNetworkProps) {
    super(scope, id);
    const { vpc } = props;
    const subnets = [...props.subnets];
    const routeTableIds = subnets.every((s) => s.routeTable?.routeTableId)
      ? subnets.map((s) => s.routeTable.routeTableId)
      : undefined;
    const createVpcEndpoints = props.createVpcEndpoints ?? true;

    const fnSg = new ec2.SecurityGroup(this, 'ControllerSg', {
      vpc,
      description: 'pgquorum controller functions: PostgreSQL to the nodes, HTTPS to AWS endpoints',
      allowAllOutbound: false,
    });
    this.securityGroup = fnSg;
    fnSg.addEgressRule(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.tcp(5432), 'PostgreSQL on the nodes');
    for (const n of props.nodes.filter((n) => n.port !== 5432)) {
      fnSg.addEgressRule(ec2.Peer.ipv4(`${n.privateIp}/32`), ec2.Port.tcp(n.port), `PostgreSQL on ${n.name}`);
    }
    fnSg.addEgressRule(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.tcp(443), 'AWS interface endpoints');
    if (createVpcEndpoints && routeTableIds) {
      // The DynamoDB gateway endpoint is reached at DynamoDB's public addresses (its prefix list is per region and
      // cannot be resolved offline at synth time). Subnets without NAT reach nothing else on 443.
      fnSg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'DynamoDB through the gateway endpoint');
    }

    if (!createVpcEndpoints) {
      Annotations.of(this).addInfoV2(
        'pgquorum:endpoints',
        'createVpcEndpoints is false: the VPC must already reach DynamoDB, SSM, Step Functions, Secrets Manager, EC2 and SNS privately.',
      );
      return;
    }
    // Which function needs which: every one reads the secret and writes the table and metrics; probes start
    // executions (states) and notify (sns); fence, verify-fence and rejoin call EC2; fence, rejoin, stop and
    // restart send SSM commands.
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
    this.endpointSecurityGroup = endpointSg;
    endpointSg.addIngressRule(fnSg, ec2.Port.tcp(443), 'controller functions');
    // Each endpoint also admits the whole VPC CIDR on 443 (`open`, the default): with private DNS every client in the
    // VPC resolves the service to it, the nodes' SSM agent and the host scripts' secret reads included.
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
}

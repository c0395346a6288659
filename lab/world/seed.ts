import {
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  QueryCommand,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  type IpPermission,
  RevokeSecurityGroupIngressCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  ResourceExistsException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { DynamoStore } from '../../lambdas/adapters/aws/dynamo-store';
import { Route53Dns } from '../../lambdas/adapters/aws/route53-dns';
import { clusterPartitionKey, TABLE_KEYS } from '../../lambdas/core/contract';
import { registrySeed } from '../../lambdas/core/registry-seed';
import {
  LAB_AZS,
  LAB_CLUSTER,
  LAB_CONTROLLER_PASSWORD,
  LAB_CONTROLLER_USER,
  LAB_READER_RECORD,
  LAB_RECORD_TTL_SEC,
  LAB_REGION,
  LAB_REPL_PASSWORD,
  LAB_REPL_USER,
  LAB_REWIND_PASSWORD,
  LAB_REWIND_USER,
  LAB_TABLE,
  LAB_VPC_CIDR,
  LAB_WRITER_RECORD,
  LAB_ZONE_NAME,
  type LabNodeSpec,
} from './topology';

/**
 * Credentials and endpoints every lab client (and every Lambda the emulator runs) uses. SSM goes to the lab's
 * own Run Command service when its port is given (the SDK v3 reads AWS_ENDPOINT_URL_<SERVICE> before
 * AWS_ENDPOINT_URL).
 */
export function labAwsEnv(emulatorPort: number, ssmPort?: number): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: `http://127.0.0.1:${emulatorPort}`,
    ...(ssmPort ? { AWS_ENDPOINT_URL_SSM: `http://127.0.0.1:${ssmPort}` } : {}),
    AWS_REGION: LAB_REGION,
    AWS_DEFAULT_REGION: LAB_REGION,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
  };
}

/** SDK clients pointed at the emulator, with short timeouts: the gates poll every 150 ms. */
export function labClients(emulatorPort: number) {
  const cfg = {
    region: LAB_REGION,
    endpoint: `http://127.0.0.1:${emulatorPort}`,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  };
  return {
    ec2: new EC2Client(cfg),
    r53: new Route53Client(cfg),
    ddb: new DynamoDBClient(cfg),
    sm: new SecretsManagerClient(cfg),
  };
}

/** What the seed created: the ids a real account would have. */
export interface SeededIds {
  vpcId: string;
  subnets: Record<string, string>;
  nodes: Record<string, { instanceId: string; securityGroupId: string; subnetId: string }>;
  hostedZoneId: string;
  /** The controller's database credentials as a secret (the operator CLI reads them as it does on AWS). */
  dbSecretArn: string;
}

/** The ingress rule every node's SG has at baseline: PostgreSQL from the VPC. */
export const PG_INGRESS: IpPermission = {
  IpProtocol: 'tcp',
  FromPort: 5432,
  ToPort: 5432,
  IpRanges: [{ CidrIp: LAB_VPC_CIDR, Description: 'PostgreSQL from the VPC' }],
};

/** Creates the VPC, subnets, per-node security groups, instances, private zone and table. */
export async function seedAws(emulatorPort: number, nodes: LabNodeSpec[]): Promise<SeededIds> {
  const { ec2, r53, ddb, sm } = labClients(emulatorPort);
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: LAB_VPC_CIDR }));
  const vpcId = vpc.Vpc!.VpcId!;
  const subnets: Record<string, string> = {};
  for (const [i, az] of LAB_AZS.entries()) {
    const s = await ec2.send(
      new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.42.${i + 1}.0/24`, AvailabilityZone: az }),
    );
    subnets[az] = s.Subnet!.SubnetId!;
  }
  const seededNodes: SeededIds['nodes'] = {};
  for (const n of nodes) {
    const sg = await ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: `pgq-${LAB_CLUSTER}-${n.name}`,
        Description: `PostgreSQL ${n.name}`,
        VpcId: vpcId,
      }),
    );
    const securityGroupId = sg.GroupId!;
    await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: securityGroupId, IpPermissions: [PG_INGRESS] }));
    const subnetId = subnets[n.az]!;
    const inst = await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-12345678',
        InstanceType: 't4g.medium',
        MinCount: 1,
        MaxCount: 1,
        SubnetId: subnetId,
        PrivateIpAddress: n.privateIp,
        SecurityGroupIds: [securityGroupId],
        TagSpecifications: [
          { ResourceType: 'instance', Tags: [{ Key: 'Name', Value: `pgq-${LAB_CLUSTER}-${n.name}` }] },
        ],
      }),
    );
    seededNodes[n.name] = { instanceId: inst.Instances![0]!.InstanceId!, securityGroupId, subnetId };
  }
  const zone = await r53.send(
    new CreateHostedZoneCommand({
      Name: LAB_ZONE_NAME,
      CallerReference: `pgq-lab-${Date.now()}`,
      VPC: { VPCId: vpcId, VPCRegion: LAB_REGION },
      HostedZoneConfig: { PrivateZone: true, Comment: 'pgquorum lab' },
    }),
  );
  const hostedZoneId = zone.HostedZone!.Id!.replace('/hostedzone/', '');
  await createClusterTable(ddb);
  const dbSecretArn = await createDbSecret(sm);
  const ids = { vpcId, subnets, nodes: seededNodes, hostedZoneId, dbSecretArn };
  await resetAwsState(emulatorPort, nodes, ids);
  return ids;
}

/** The secret's name in the emulator (the stack creates `pgquorum-<cluster>-db`-like secrets the same way). */
export const LAB_DB_SECRET_NAME = `pgquorum-${LAB_CLUSTER}-db`;

async function createDbSecret(sm: SecretsManagerClient): Promise<string> {
  // All three roles, as the stack's two secrets hold them between them (README, "Security").
  const value = JSON.stringify({
    username: LAB_CONTROLLER_USER,
    password: LAB_CONTROLLER_PASSWORD,
    replicationUsername: LAB_REPL_USER,
    replicationPassword: LAB_REPL_PASSWORD,
    rewindUsername: LAB_REWIND_USER,
    rewindPassword: LAB_REWIND_PASSWORD,
  });
  try {
    return (await sm.send(new CreateSecretCommand({ Name: LAB_DB_SECRET_NAME, SecretString: value }))).ARN!;
  } catch (err) {
    if (!(err instanceof ResourceExistsException)) throw err;
    return (await sm.send(new DescribeSecretCommand({ SecretId: LAB_DB_SECRET_NAME }))).ARN!;
  }
}

/**
 * Creates a cluster table with the stack's key schema (pk, sk) and TTL on `expiresAt`, unless it exists: the lab's
 * own table and the adapter tests' throwaway ones. @default name LAB_TABLE
 */
export async function createClusterTable(ddb: DynamoDBClient, name = LAB_TABLE): Promise<void> {
  try {
    await ddb.send(new DescribeTableCommand({ TableName: name }));
    return;
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
  }
  await ddb.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: TABLE_KEYS.partitionKey, AttributeType: 'S' },
        { AttributeName: TABLE_KEYS.sortKey, AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
      ],
    }),
  );
  await ddb.send(
    new UpdateTimeToLiveCommand({
      TableName: name,
      TimeToLiveSpecification: { Enabled: true, AttributeName: TABLE_KEYS.timeToLive },
    }),
  );
}

/**
 * Puts the AWS side back to baseline without re-creating anything: every node's
 * SG admits PostgreSQL again, writer -> pg1, reader -> pg2 + pg3, the cluster's
 * items replaced by the node registry and a steady lease at epoch 1.
 */
export async function resetAwsState(emulatorPort: number, nodes: LabNodeSpec[], ids: SeededIds): Promise<void> {
  const { ec2, ddb } = labClients(emulatorPort);
  for (const n of nodes) {
    const sgId = ids.nodes[n.name]!.securityGroupId;
    const cur = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [sgId] }));
    const perms = cur.SecurityGroups?.[0]?.IpPermissions ?? [];
    if (perms.length) await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: sgId, IpPermissions: perms }));
    await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: sgId, IpPermissions: [PG_INGRESS] }));
  }
  const primary = nodes[0]!;
  await setRecord(emulatorPort, ids.hostedZoneId, LAB_WRITER_RECORD, [primary.privateIp]);
  await setRecord(
    emulatorPort,
    ids.hostedZoneId,
    LAB_READER_RECORD,
    nodes.slice(1).map((n) => n.privateIp),
  );
  const pk = clusterPartitionKey(LAB_CLUSTER);
  const existing = await ddb.send(
    new QueryCommand({
      TableName: LAB_TABLE,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: pk } },
      ConsistentRead: true,
    }),
  );
  for (const item of existing.Items ?? []) {
    await ddb.send(new DeleteItemCommand({ TableName: LAB_TABLE, Key: { pk: item.pk!, sk: item.sk! } }));
  }
  // The stack's seed items (lambdas/core/registry-seed.ts) written by the product's store, with what differs on one
  // machine: the controller reaches each node through its gate, and replicas stream through the primary's
  // replication path, so fences and partitions act on it.
  const seed = registrySeed({
    initialPrimary: primary.name,
    nodes: nodes.map((n) => ({
      name: n.name,
      instanceId: ids.nodes[n.name]!.instanceId,
      az: n.az,
      privateIp: n.privateIp,
      host: '127.0.0.1',
      port: n.gatePorts.client,
      replicationHost: '127.0.0.1',
      replicationPort: n.gatePorts.repl,
      securityGroupId: ids.nodes[n.name]!.securityGroupId,
    })),
    now: Date.now(),
    reason: 'lab baseline',
  });
  const store = new DynamoStore(ddb, LAB_TABLE, LAB_CLUSTER);
  for (const n of seed.nodes) await store.putNode(n);
  await store.seedLease(seed.lease);
}

/** UPSERTs an A record in the private zone, through the product's DNS adapter. */
export async function setRecord(emulatorPort: number, zoneId: string, name: string, ips: string[]): Promise<void> {
  await labDns(emulatorPort, zoneId).setRecord(name, ips);
}

/** Reads an A record: its values and TTL (through the product's DNS adapter). */
export async function getRecord(
  emulatorPort: number,
  zoneId: string,
  name: string,
): Promise<{ ips: string[]; ttlSec: number }> {
  const rr = await labDns(emulatorPort, zoneId).getRecordSet(name);
  if (!rr) throw new Error(`record ${name} not found in zone ${zoneId}`);
  return rr;
}

function labDns(emulatorPort: number, zoneId: string): Route53Dns {
  return new Route53Dns(labClients(emulatorPort).r53, zoneId, LAB_RECORD_TTL_SEC);
}

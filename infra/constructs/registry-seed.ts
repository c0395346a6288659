import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { clusterPartitionKey, LEASE_SORT_KEY, nodeSortKey, TABLE_KEYS } from '../../lambdas/core/contract';

/** One node as the registry seeds it. */
export interface SeedNode {
  readonly name: string;
  readonly instanceId: string;
  readonly az: string;
  readonly privateIp: string;
  readonly port: number;
  readonly securityGroupId: string;
  readonly noFailover: boolean;
}

/** Properties of {@link RegistrySeed}. */
export interface RegistrySeedProps {
  readonly cluster: string;
  readonly table: dynamodb.ITable;
  readonly initialPrimary: string;
  readonly nodes: readonly SeedNode[];
}

/** Seeds the lease and the node registry once: a redeploy never resets them (the put is conditional). */
export class RegistrySeed extends Construct {
  constructor(scope: Construct, id: string, props: RegistrySeedProps) {
    super(scope, id);
    const c = props;
    const seedItems = [
      {
        [TABLE_KEYS.partitionKey]: { S: clusterPartitionKey(c.cluster) },
        [TABLE_KEYS.sortKey]: { S: LEASE_SORT_KEY },
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
        [TABLE_KEYS.partitionKey]: { S: clusterPartitionKey(c.cluster) },
        [TABLE_KEYS.sortKey]: { S: nodeSortKey(n.name) },
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
          parameters: {
            TableName: c.table.tableName,
            Item: item,
            ConditionExpression: `attribute_not_exists(${TABLE_KEYS.partitionKey})`,
          },
          physicalResourceId: cr.PhysicalResourceId.of(`${c.cluster}-${item.sk.S}`),
          ignoreErrorCodesMatching: 'ConditionalCheckFailedException',
        },
        policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [c.table.tableArn] }),
        installLatestAwsSdk: false,
      });
    });
  }
}

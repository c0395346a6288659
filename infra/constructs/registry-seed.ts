import { marshall } from '@aws-sdk/util-dynamodb';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { clusterPartitionKey, LEASE_SORT_KEY, nodeSortKey, TABLE_KEYS } from '../../lambdas/core/contract';
import { registrySeed, type SeedNodeSpec } from '../../lambdas/core/registry-seed';

/** One node as the registry seeds it (the shape lambdas/core/registry-seed.ts builds the items from). */
export type SeedNode = SeedNodeSpec & { readonly noFailover: boolean };

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
    // One shape for the stack's seed and the lab's (lambdas/core/registry-seed.ts); updatedAt 0: a template holds no clock.
    const seed = registrySeed({
      initialPrimary: c.initialPrimary,
      nodes: c.nodes,
      now: 0,
      reason: 'initial deployment',
    });
    const pk = { [TABLE_KEYS.partitionKey]: clusterPartitionKey(c.cluster) };
    const seedItems = [
      { ...pk, [TABLE_KEYS.sortKey]: LEASE_SORT_KEY, ...seed.lease },
      ...seed.nodes.map((n) => ({ ...pk, [TABLE_KEYS.sortKey]: nodeSortKey(n.name), ...n })),
    ].map((item) => marshall(item, { removeUndefinedValues: true }));
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
          physicalResourceId: cr.PhysicalResourceId.of(`${c.cluster}-${item[TABLE_KEYS.sortKey]!.S}`),
          ignoreErrorCodesMatching: 'ConditionalCheckFailedException',
        },
        policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [c.table.tableArn] }),
        installLatestAwsSdk: false,
      });
    });
  }
}

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

type AttributeValue = { S: string } | { N: string } | { BOOL: boolean } | { NULL: true };

/**
 * A seed item in DynamoDB's attribute-value form, for the custom resource's putItem. Written here rather than with
 * @aws-sdk/util-dynamodb's marshall: the packaged construct must not need a package its consumers do not install.
 * A seed item holds only strings, numbers, booleans and nulls (undefined fields are left out).
 */
function toAttributeMap(item: Readonly<Record<string, unknown>>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [k, v] of Object.entries(item)) {
    if (v === undefined) continue;
    if (v === null) out[k] = { NULL: true };
    else if (typeof v === 'string') out[k] = { S: v };
    else if (typeof v === 'number') out[k] = { N: String(v) };
    else if (typeof v === 'boolean') out[k] = { BOOL: v };
    else throw new Error(`seed item field ${k}: ${typeof v} has no attribute-value form here`);
  }
  return out;
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
    ].map(toAttributeMap);
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
          physicalResourceId: cr.PhysicalResourceId.of(`${c.cluster}-${(item[TABLE_KEYS.sortKey] as { S: string }).S}`),
          ignoreErrorCodesMatching: 'ConditionalCheckFailedException',
        },
        policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [c.table.tableArn] }),
        installLatestAwsSdk: false,
      });
    });
  }
}

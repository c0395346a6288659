import { DescribeStacksCommand, type DescribeStacksCommandOutput } from '@aws-sdk/client-cloudformation';
import { EnvironmentError } from './errors';

/** The stack outputs the CLI reads (infra/stacks/pgquorum-stack.ts declares them). */
export const STACK_OUTPUTS = [
  'ClusterName',
  'TableName',
  'StateMachineArn',
  'HostedZoneId',
  'WriterRecord',
  'ReaderRecord',
  'TopicArn',
  'DbSecretArn',
  'Settings',
  'ValidateInputFunction',
  'RejoinFunction',
  'SettleRejoinFunction',
] as const;

/** One of them. */
export type StackOutputKey = (typeof STACK_OUTPUTS)[number];

/** Without these the CLI cannot do anything useful with the stack. */
const REQUIRED: readonly StackOutputKey[] = ['ClusterName', 'TableName', 'StateMachineArn'];

/** The one call the discovery makes (a CloudFormation client, or a stand-in in tests). */
export interface DescribeStacksClient {
  send(cmd: DescribeStacksCommand): Promise<DescribeStacksCommandOutput>;
}

/**
 * Reads a deployed pgquorum stack's outputs with one DescribeStacks call.
 * Every way it can go wrong becomes one line naming the stack and what to do.
 */
export async function readStackOutputs(
  cfn: DescribeStacksClient,
  stackName: string,
  region: string | undefined,
): Promise<Partial<Record<StackOutputKey, string>>> {
  let r: DescribeStacksCommandOutput;
  try {
    r = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
  } catch (err) {
    const e = err as Error;
    const where = region ?? 'the default region';
    // CloudFormation answers a missing stack with a ValidationError, not a not-found error.
    if (/does not exist/.test(e.message)) {
      throw new EnvironmentError(`stack '${stackName}' not found in ${where}: check --stack and --region`);
    }
    if (e.name === 'AccessDenied' || e.name === 'AccessDeniedException' || /not authorized/i.test(e.message)) {
      throw new EnvironmentError(
        `cannot read stack '${stackName}': ${e.message.split('\n')[0]} (needs cloudformation:DescribeStacks)`,
      );
    }
    if (e.name === 'CredentialsProviderError' || /credential/i.test(e.message)) {
      throw new EnvironmentError(
        `no AWS credentials (${e.message.split('\n')[0]}): use --profile, AWS_PROFILE or AWS_ACCESS_KEY_ID`,
      );
    }
    throw new EnvironmentError(`DescribeStacks ${stackName} in ${where}: ${e.name}: ${e.message.split('\n')[0]}`);
  }
  const stack = r.Stacks?.[0];
  if (!stack) throw new EnvironmentError(`stack '${stackName}' not found: DescribeStacks returned nothing`);
  const out: Partial<Record<StackOutputKey, string>> = {};
  for (const o of stack.Outputs ?? []) {
    if (o.OutputKey && o.OutputValue && (STACK_OUTPUTS as readonly string[]).includes(o.OutputKey)) {
      out[o.OutputKey as StackOutputKey] = o.OutputValue;
    }
  }
  const missing = REQUIRED.filter((k) => !out[k]);
  if (missing.length) {
    throw new EnvironmentError(
      `stack '${stackName}' (${stack.StackStatus}) lacks the pgquorum output(s) ${missing.join(', ')}: is it a pgquorum stack, deployed by this version?`,
    );
  }
  return out;
}

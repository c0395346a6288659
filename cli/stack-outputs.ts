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
  'DbSslMode',
  'DbCaBundle',
  'NodeTlsNames',
  'Settings',
  'ValidateInputFunction',
  'RejoinFunction',
  'SettleRejoinFunction',
] as const;

/** One of them. */
export type StackOutputKey = (typeof STACK_OUTPUTS)[number];

/**
 * An outputs file may carry one key no stack declares: a JSON object of environment variables the CLI sets before
 * any AWS call (the lab's outputs file: its emulator endpoint and test credentials). A real stack has none.
 */
export const SDK_ENVIRONMENT_OUTPUT = 'SdkEnvironment';

/** Stack outputs as read from a file, with the SDK environment when the file has one. */
export interface FileOutputs {
  readonly stackName: string;
  readonly outputs: Partial<Record<StackOutputKey, string>>;
  readonly environment: Readonly<Record<string, string>>;
}

/**
 * Reads an outputs file in the shape `cdk deploy --outputs-file` writes (`{"<stack>": {"<OutputKey>": "value"}}`).
 * A file with several stacks needs `stackName`; every problem is one line naming the file and what to do.
 */
export function parseOutputsFile(file: string, text: string, stackName?: string): FileOutputs {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new EnvironmentError(`outputs file ${file} is not JSON: ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new EnvironmentError(`outputs file ${file} must be an object of stacks, as cdk deploy --outputs-file writes`);
  }
  const stacks = doc as Record<string, unknown>;
  const names = Object.keys(stacks);
  const name = stackName ?? (names.length === 1 ? names[0] : undefined);
  if (!name) {
    throw new EnvironmentError(
      `outputs file ${file} has ${names.length ? `stacks ${names.join(', ')}` : 'no stack'}: pass --stack NAME`,
    );
  }
  const raw = stacks[name];
  if (!raw || typeof raw !== 'object') {
    throw new EnvironmentError(`outputs file ${file} has no stack '${name}' (stacks: ${names.join(', ') || 'none'})`);
  }
  const outputs: Partial<Record<StackOutputKey, string>> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (!(STACK_OUTPUTS as readonly string[]).includes(k)) continue;
    if (typeof v !== 'string') throw new EnvironmentError(`outputs file ${file}: ${name}.${k} must be a string`);
    outputs[k as StackOutputKey] = v;
  }
  const missing = REQUIRED_FILE.filter((k) => !outputs[k]);
  if (missing.length) {
    throw new EnvironmentError(
      `outputs file ${file}: stack '${name}' lacks the pgquorum output(s) ${missing.join(', ')}: is it a pgquorum stack's outputs?`,
    );
  }
  let environment: Record<string, string> = {};
  const env = (raw as Record<string, unknown>)[SDK_ENVIRONMENT_OUTPUT];
  if (env !== undefined) {
    try {
      environment = JSON.parse(String(env)) as Record<string, string>;
    } catch {
      throw new EnvironmentError(`outputs file ${file}: ${name}.${SDK_ENVIRONMENT_OUTPUT} is not a JSON object`);
    }
    const bad = Object.entries(environment).find(([k, v]) => !/^AWS_[A-Z0-9_]+$/.test(k) || typeof v !== 'string');
    if (bad || typeof environment !== 'object' || Array.isArray(environment)) {
      throw new EnvironmentError(
        `outputs file ${file}: ${name}.${SDK_ENVIRONMENT_OUTPUT} may only set AWS_* variables to strings${bad ? ` (not ${bad[0]})` : ''}`,
      );
    }
  }
  return { stackName: name, outputs, environment };
}

/**
 * A file needs what a stack needs, except the state machine: the lab writes its file before the controller is
 * deployed (status and history work; runs are refused with that reason).
 */
const REQUIRED_FILE: readonly StackOutputKey[] = ['ClusterName', 'TableName'];

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

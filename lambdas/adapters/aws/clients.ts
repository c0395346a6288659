import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { Route53Client } from '@aws-sdk/client-route-53';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** Every SDK client the controller uses; tests inject their own. */
export interface AwsClients {
  ddb: DynamoDBClient;
  ec2: EC2Client;
  r53: Route53Client;
  cw: CloudWatchClient;
  sfn: SFNClient;
  ssm: SSMClient;
}

/**
 * Clients with timeouts that suit a one-second probe loop: a slow or absent
 * endpoint must fail fast so the controller fails static instead of stalling.
 * The endpoint comes from the SDK's own AWS_ENDPOINT_URL handling (LocalStack,
 * ministack or a real account: the code does not know which).
 */
export function makeClients(opts: { requestTimeoutMs?: number; maxAttempts?: number } = {}): AwsClients {
  const cfg = {
    maxAttempts: opts.maxAttempts ?? 2,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: Math.min(1000, opts.requestTimeoutMs ?? 2000),
      requestTimeout: opts.requestTimeoutMs ?? 2000,
    }),
  };
  return {
    ddb: new DynamoDBClient(cfg),
    ec2: new EC2Client(cfg),
    r53: new Route53Client(cfg),
    cw: new CloudWatchClient(cfg),
    sfn: new SFNClient(cfg),
    ssm: new SSMClient(cfg),
  };
}

/**
 * The operator CLI and the lab run on Node 20 while Lambda runs Node 22; the AWS SDK warns on every process start
 * that releases after January 2027 will need Node 22. The locked SDK versions support Node 20, so the warning is
 * noise there (the stack sets the same variable on the functions).
 */
export function quietNode20Warning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

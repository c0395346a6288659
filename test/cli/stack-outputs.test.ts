import type { DescribeStacksCommand, DescribeStacksCommandOutput } from '@aws-sdk/client-cloudformation';
import { stackTarget } from '../../cli/context';
import { EXIT, exitCodeOf } from '../../cli/errors';
import { type DescribeStacksClient, readStackOutputs } from '../../cli/stack-outputs';

const named = (name: string, message: string) => Object.assign(new Error(message), { name });

/** A CloudFormation stand-in answering DescribeStacks with `answer` (or throwing it). */
function cfn(answer: Partial<DescribeStacksCommandOutput> | Error): DescribeStacksClient & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    send: async (cmd: DescribeStacksCommand) => {
      asked.push(cmd.input.StackName!);
      if (answer instanceof Error) throw answer;
      return answer as DescribeStacksCommandOutput;
    },
  };
}

const outputs = {
  ClusterName: 'orders',
  TableName: 'PgQuorum-orders-Table-1',
  StateMachineArn: 'arn:aws:states:eu-west-1:1:stateMachine:Failover',
  HostedZoneId: 'Z0PRIVATE',
  WriterRecord: 'writer.orders.db.internal',
  ReaderRecord: 'reader.orders.db.internal',
  DbSecretArn: 'arn:aws:secretsmanager:eu-west-1:1:secret:db-AbCdEf',
  Settings: JSON.stringify({ failuresToDown: 4 }),
  ValidateInputFunction: 'PgQuorum-orders-TaskValidateInput-1',
  RejoinFunction: 'PgQuorum-orders-TaskRejoinOldPrimary-1',
  SettleRejoinFunction: 'PgQuorum-orders-TaskSettleRejoin-1',
};
const stack = (o: Record<string, string>, status = 'UPDATE_COMPLETE'): DescribeStacksCommandOutput =>
  ({
    Stacks: [
      {
        StackName: 'PgQuorum-orders',
        StackStatus: status,
        CreationTime: new Date(),
        Outputs: Object.entries(o).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  }) as unknown as DescribeStacksCommandOutput;

describe('stack discovery (--stack)', () => {
  it('builds the whole target from one DescribeStacks call, flags still winning', async () => {
    const c = cfn(stack(outputs) as DescribeStacksCommandOutput);
    const t = await stackTarget({ table: 'override' }, 'PgQuorum-orders', c, { AWS_REGION: 'eu-west-1' });
    expect(c.asked).toEqual(['PgQuorum-orders']);
    expect(t).toMatchObject({
      kind: 'aws',
      cluster: 'orders',
      table: 'override',
      zoneId: 'Z0PRIVATE',
      writerRecord: 'writer.orders.db.internal',
      readerRecord: 'reader.orders.db.internal',
      stateMachineArn: outputs.StateMachineArn,
      dbSecretArn: outputs.DbSecretArn,
      functions: {
        'validate-input': outputs.ValidateInputFunction,
        'rejoin-old-primary': outputs.RejoinFunction,
        'settle-rejoin': outputs.SettleRejoinFunction,
      },
      discovery: ['stack PgQuorum-orders outputs'],
    });
    expect(t.settings.failuresToDown).toBe(4);
  });

  it.each([
    {
      name: 'stack not found',
      answer: named('ValidationError', 'Stack with id PgQuorum-orders does not exist'),
      message: "stack 'PgQuorum-orders' not found in eu-west-1: check --stack and --region",
    },
    {
      name: 'access denied',
      answer: named(
        'AccessDenied',
        'User: arn:aws:iam::1:user/ops is not authorized to perform: cloudformation:DescribeStacks',
      ),
      message: /^cannot read stack 'PgQuorum-orders': User: .* \(needs cloudformation:DescribeStacks\)$/,
    },
    {
      name: 'no credentials',
      answer: named('CredentialsProviderError', 'Could not load credentials from any providers'),
      message: /^no AWS credentials \(Could not load credentials from any providers\)/,
    },
    {
      name: 'not a pgquorum stack (outputs missing)',
      answer: stack({ ClusterName: 'orders' }),
      message:
        "stack 'PgQuorum-orders' (UPDATE_COMPLETE) lacks the pgquorum output(s) TableName, StateMachineArn: is it a pgquorum stack, deployed by this version?",
    },
  ])('$name: one line, environment exit code', async ({ answer, message }) => {
    const err = await readStackOutputs(
      cfn(answer as DescribeStacksCommandOutput | Error),
      'PgQuorum-orders',
      'eu-west-1',
    ).catch((e) => e);
    expect(exitCodeOf(err)).toBe(EXIT.environment);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('\n');
  });

  it('refuses a --cluster that contradicts the stack, before anything is read or changed', async () => {
    const err = await stackTarget({ cluster: 'payments' }, 'PgQuorum-orders', cfn(stack(outputs)), {}).catch((e) => e);
    expect(exitCodeOf(err)).toBe(EXIT.usage);
    expect(err.message).toBe("--cluster payments does not match stack 'PgQuorum-orders', which manages 'orders'");
  });
});

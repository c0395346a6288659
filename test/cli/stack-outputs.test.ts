import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DescribeStacksCommand, DescribeStacksCommandOutput } from '@aws-sdk/client-cloudformation';
import { type FunctionConfiguration, LambdaClient } from '@aws-sdk/client-lambda';
import { awsTarget, type CliContext, fileTarget, labOutputsPath, stackTarget, wantsLab } from '../../cli/context';
import { EXIT, exitCodeOf } from '../../cli/errors';
import { toJson } from '../../cli/output';
import { type DescribeStacksClient, parseOutputsFile, readStackOutputs } from '../../cli/stack-outputs';
import { gatherStatus } from '../../cli/status';
import { lease, NOW } from '../core/builders';

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
  DbSslMode: 'verify-full',
  DbCaBundle: 'arn:aws:ssm:eu-west-1:1:parameter/pgquorum/orders/db-ca-bundle',
  NodeTlsNames: JSON.stringify({ pg1: 'db1.orders.internal' }),
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
      dbSslMode: 'verify-full',
      dbCaBundle: outputs.DbCaBundle,
      nodeTlsNames: { pg1: 'db1.orders.internal' },
      functions: {
        'validate-input': outputs.ValidateInputFunction,
        'rejoin-old-primary': outputs.RejoinFunction,
        'settle-rejoin': outputs.SettleRejoinFunction,
      },
      discovery: [
        'stack PgQuorum-orders outputs',
        '--table overrides the stack output TableName',
        'stack PgQuorum-orders has no output TopicArn (deployed by an older version?)',
      ],
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
      name: 'DescribeStacks answers with no stack',
      answer: { Stacks: [] },
      message: "stack 'PgQuorum-orders' not found: DescribeStacks returned nothing",
    },
    {
      name: 'any other failure (throttled)',
      answer: named('Throttling', 'Rate exceeded\n  at the SDK'),
      message: 'DescribeStacks PgQuorum-orders in eu-west-1: Throttling: Rate exceeded',
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

describe('precedence: flags > stack outputs > function discovery', () => {
  it.each([
    ['table', 'TableName', '--table'],
    ['zoneId', 'HostedZoneId', '--zone-id'],
    ['writerRecord', 'WriterRecord', '--writer-record'],
    ['readerRecord', 'ReaderRecord', '--reader-record'],
    ['stateMachineArn', 'StateMachineArn', '--state-machine-arn'],
  ] as const)('%s: the flag wins over the output %s, and the override is recorded', async (opt, key, flag) => {
    const from = await stackTarget({}, 'PgQuorum-orders', cfn(stack(outputs)), {});
    expect(from[opt]).toBe((outputs as Record<string, string>)[key]);
    const over = await stackTarget({ [opt]: 'from-flag' }, 'PgQuorum-orders', cfn(stack(outputs)), {});
    expect(over[opt]).toBe('from-flag');
    expect(over.discovery).toContain(`${flag} overrides the stack output ${key}`);
    expect(from.discovery.join('\n')).not.toContain('overrides');
  });

  /** A Lambda client that records every call (the stack path must never list functions) and never leaves the process. */
  const lambdaSpy = (functions: FunctionConfiguration[] = []) => {
    const calls: string[] = [];
    // A real client (the SDK's paginator insists on one) whose send is replaced.
    const client = Object.assign(new LambdaClient({ region: 'eu-west-1' }), { calls });
    client.send = (async (cmd: { constructor: { name: string } }) => {
      calls.push(cmd.constructor.name);
      return { Functions: functions };
    }) as unknown as LambdaClient['send'];
    return client;
  };

  it.each([
    { name: '--stack', opts: { stack: 'PgQuorum-orders' }, env: {}, asked: 'PgQuorum-orders' },
    { name: 'PGQ_STACK', opts: {}, env: { PGQ_STACK: 'PgQuorum-orders' }, asked: 'PgQuorum-orders' },
    {
      name: '--stack over PGQ_STACK',
      opts: { stack: 'PgQuorum-orders' },
      env: { PGQ_STACK: 'PgQuorum-other' },
      asked: 'PgQuorum-orders',
    },
    {
      name: 'a stack over PGQ_CLUSTER',
      opts: {},
      env: { PGQ_STACK: 'PgQuorum-orders', PGQ_CLUSTER: 'orders' },
      asked: 'PgQuorum-orders',
    },
  ])('$name: reads that stack with one DescribeStacks call and never lists functions', async (row) => {
    const c = cfn(stack(outputs));
    const lambda = lambdaSpy();
    const t = await awsTarget(row.opts, lambda, row.env, () => c);
    expect(c.asked).toEqual([row.asked]);
    expect(lambda.calls).toEqual([]);
    expect(t.discovery[0]).toBe(`stack ${row.asked} outputs`);
  });

  it('without a stack, falls back to the functions’ environment and records that source', async () => {
    let made = 0;
    const lambda = lambdaSpy([
      {
        FunctionName: 'PgQuorum-orders-TaskRejoinOldPrimary-1',
        Environment: { Variables: { PGQ_CLUSTER: 'orders', PGQ_TABLE: 'T-from-env', PGQ_ZONE_ID: 'Z1' } },
      },
    ]);
    const t = await awsTarget({ cluster: 'orders' }, lambda, {}, () => {
      made++;
      return cfn(stack(outputs));
    });
    expect(made).toBe(0);
    expect(lambda.calls).toEqual(['ListFunctionsCommand']);
    expect(t).toMatchObject({
      table: 'T-from-env',
      zoneId: 'Z1',
      functions: { 'rejoin-old-primary': 'PgQuorum-orders-TaskRejoinOldPrimary-1' },
      discovery: ['1 controller function(s) with PGQ_CLUSTER=orders'],
    });
  });

  it('a stack error ends the discovery: no silent fall back to listing functions', async () => {
    const lambda = lambdaSpy();
    const err = await awsTarget({ stack: 'PgQuorum-orders' }, lambda, {}, () =>
      cfn(named('ValidationError', 'Stack with id PgQuorum-orders does not exist')),
    ).catch((e) => e);
    expect(exitCodeOf(err)).toBe(EXIT.environment);
    expect(lambda.calls).toEqual([]);
  });
});

describe('status --json', () => {
  it('carries how the target was found, so a wrong table or an overridden output can be traced', async () => {
    const target = await stackTarget({ table: 'override' }, 'PgQuorum-orders', cfn(stack(outputs)), {});
    // Just enough of a context for a cluster with no nodes and no votes: nothing leaves the process.
    const ctx = {
      target,
      store: { getLease: async () => lease(), listNodes: async () => [], getVotes: async () => [] },
      pg: async () => undefined,
      db: async () => undefined,
      dns: undefined,
      now: () => NOW,
    } as unknown as CliContext;
    const s = await gatherStatus(ctx);
    expect(s.discovery).toEqual(target.discovery);
    expect(s.discovery).toContain('--table overrides the stack output TableName');
    expect(JSON.parse(toJson(s)).discovery).toEqual(target.discovery);
  });
});

describe('outputs file (--outputs, and the lab with --lab)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-outputs-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, doc: unknown) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, typeof doc === 'string' ? doc : JSON.stringify(doc));
    return f;
  };

  it('reads the shape cdk deploy --outputs-file writes into the same target as the stack', async () => {
    const file = write('one.json', { 'PgQuorum-orders': { ...outputs, Unrelated: 'x' } });
    const fromFile = fileTarget({}, file, 'aws', {});
    const fromStack = await stackTarget({}, 'PgQuorum-orders', cfn(stack(outputs)), {});
    expect({ ...fromFile, discovery: [] }).toEqual({ ...fromStack, discovery: [] });
    expect(fromFile.discovery[0]).toBe(`outputs file ${file} (stack PgQuorum-orders)`);
  });

  it('applies only AWS_* variables of the lab SDK environment, before any client is made', () => {
    const env: NodeJS.ProcessEnv = {};
    const sdk = JSON.stringify({ AWS_ENDPOINT_URL: 'http://127.0.0.1:21402', AWS_REGION: 'us-east-1' });
    const file = write('lab.json', { 'pgquorum-lab': { ClusterName: 'lab', TableName: 't', SdkEnvironment: sdk } });
    const t = fileTarget({}, file, 'lab', env);
    expect(env).toEqual({ AWS_ENDPOINT_URL: 'http://127.0.0.1:21402', AWS_REGION: 'us-east-1' });
    expect(t).toMatchObject({ kind: 'lab', cluster: 'lab', table: 't' });
    expect(t.stateMachineArn).toBeUndefined();
    expect(t.discovery.join('; ')).toMatch(/the lab has no StateMachineArn.*npm run lab -- deploy/);
    const evil = write('evil.json', {
      s: { ClusterName: 'lab', TableName: 't', SdkEnvironment: JSON.stringify({ NODE_OPTIONS: '--require x' }) },
    });
    expect(() => parseOutputsFile(evil, fs.readFileSync(evil, 'utf8'))).toThrow(
      /SdkEnvironment may only set AWS_\* variables to strings \(not NODE_OPTIONS\)/,
    );
  });

  it.each<[string, unknown, string | undefined, RegExp]>([
    ['not JSON', '{oops', undefined, /is not JSON/],
    ['an array', [], undefined, /must be an object of stacks/],
    ['two stacks, none named', { a: outputs, b: outputs }, undefined, /has stacks a, b: pass --stack NAME/],
    ['the named stack absent', { a: outputs }, 'b', /has no stack 'b' \(stacks: a\)/],
    [
      'a number where a string belongs',
      { a: { ...outputs, TableName: 5 } },
      undefined,
      /a\.TableName must be a string/,
    ],
    ['no table', { a: { ClusterName: 'c' } }, undefined, /lacks the pgquorum output\(s\) TableName/],
  ])('refuses %s with one line naming the file', (_n, doc, stackName, msg) => {
    const text = typeof doc === 'string' ? doc : JSON.stringify(doc);
    const err = (() => {
      try {
        parseOutputsFile('/x/outputs.json', text, stackName);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toMatch(msg);
    expect(err?.message).toContain('/x/outputs.json');
    expect(exitCodeOf(err)).toBe(EXIT.environment);
  });

  it('finds the lab by PGQ_LAB_DIR, else .lab/outputs.json up from the working directory', () => {
    expect(labOutputsPath({ PGQ_LAB_DIR: '/l' })).toBe('/l/outputs.json');
    const deep = path.join(dir, 'a', 'b');
    fs.mkdirSync(deep, { recursive: true });
    fs.mkdirSync(path.join(dir, '.lab'));
    const file = write('.lab/outputs.json', { lab: { ClusterName: 'lab', TableName: 't' } });
    expect(labOutputsPath({}, deep)).toBe(file);
  });

  it('targets the lab when AWS_ENDPOINT_URL is the endpoint its outputs name, and not otherwise', () => {
    const labDir = path.join(dir, 'labdir');
    fs.mkdirSync(labDir);
    const sdk = JSON.stringify({ AWS_ENDPOINT_URL: 'http://127.0.0.1:21402/' });
    fs.writeFileSync(path.join(labDir, 'outputs.json'), JSON.stringify({ lab: { SdkEnvironment: sdk } }));
    const env = { PGQ_LAB_DIR: labDir };
    expect(wantsLab({}, { ...env, AWS_ENDPOINT_URL: 'http://127.0.0.1:21402' })).toBe(true);
    expect(wantsLab({}, { ...env, AWS_ENDPOINT_URL: 'http://127.0.0.1:4566' })).toBe(false);
    expect(wantsLab({ stack: 'prod' }, { ...env, AWS_ENDPOINT_URL: 'http://127.0.0.1:21402' })).toBe(false);
    expect(wantsLab({}, env)).toBe(false);
  });
});

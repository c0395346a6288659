import {
  GetCommandInvocationCommand,
  type GetCommandInvocationCommandOutput,
  InvocationDoesNotExist,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import {
  HostCommandFailedError,
  HostCommandTimeoutError,
  SsmHostCommands,
} from '../../../lambdas/adapters/aws/ssm-host-commands';
import { HostUnreachableError, isRetriable } from '../../../lambdas/core/errors';

/**
 * The Run Command protocol, scripted. ministack runs SendCommand only on
 * instances backed by a Docker container (none here), so the polling path is
 * tested with this stand-in and the refusal path against the emulator
 * (aws-adapters.lab.test.ts).
 */
function scriptedSsm(
  invocations: (Partial<GetCommandInvocationCommandOutput> | 'not-yet')[],
  opts: { refuseSend?: Error } = {},
) {
  const sent: SendCommandCommand['input'][] = [];
  let polls = 0;
  const client = {
    send: async (cmd: unknown) => {
      if (cmd instanceof SendCommandCommand) {
        sent.push(cmd.input);
        if (opts.refuseSend) throw opts.refuseSend;
        return { Command: { CommandId: 'cmd-1' } };
      }
      if (cmd instanceof GetCommandInvocationCommand) {
        const next = invocations[Math.min(polls++, invocations.length - 1)]!;
        if (next === 'not-yet') throw new InvocationDoesNotExist({ message: 'not yet', $metadata: {} });
        return next;
      }
      throw new Error('unexpected command');
    },
  } as unknown as SSMClient;
  return { client, sent, polls: () => polls };
}

const node = { name: 'pg1', instanceId: 'i-0abc' };

describe('SSM host commands', () => {
  it('sends the versioned document with the secret id (never a password) and returns the output on Success', async () => {
    const ssm = scriptedSsm([
      'not-yet',
      { Status: 'InProgress' },
      { Status: 'Success', ResponseCode: 0, StandardOutputContent: 'STARTED=replica' },
    ]);
    const r = await new SsmHostCommands(ssm.client, 'pgquorum-orders', 'arn:aws:secretsmanager:x:1:secret:db').run(
      node,
      'start-as-replica',
      { PRIMARY_CONNINFO: 'host=10.0.0.2 user=replicator', SLOT_NAME: 'pg1' },
      { timeoutMs: 10000 },
    );
    expect(r).toEqual({ exitCode: 0, stdout: 'STARTED=replica', stderr: '' });
    expect(ssm.sent).toEqual([
      expect.objectContaining({
        DocumentName: 'pgquorum-orders-start-as-replica',
        InstanceIds: ['i-0abc'],
        Parameters: {
          PRIMARY_CONNINFO: ['host=10.0.0.2 user=replicator'],
          SLOT_NAME: ['pg1'],
          SECRET_ID: ['arn:aws:secretsmanager:x:1:secret:db'],
        },
      }),
    ]);
    expect(ssm.polls()).toBe(3);
  });

  it('a script that ran and failed is fatal, with its stderr', async () => {
    const ssm = scriptedSsm([{ Status: 'Failed', ResponseCode: 3, StandardErrorContent: 'pg_rewind failed' }]);
    const err = await new SsmHostCommands(ssm.client, 'p')
      .run(node, 'rewind-and-follow', {}, { timeoutMs: 5000 })
      .catch((e) => e);
    expect(err).toBeInstanceOf(HostCommandFailedError);
    expect(isRetriable(err)).toBe(false);
    expect(err.message).toMatch(/rewind-and-follow on pg1 ended Failed: pg_rewind failed/);
  });

  it('a command still running at the deadline is retriable, naming the script and node', async () => {
    const ssm = scriptedSsm([{ Status: 'InProgress' }]);
    const err = await new SsmHostCommands(ssm.client, 'p')
      .run(node, 'stop-postgres-fast', {}, { timeoutMs: 300 })
      .catch((e) => e);
    expect(err).toBeInstanceOf(HostCommandTimeoutError);
    expect(isRetriable(err)).toBe(true);
    expect(err.message).toMatch(/stop-postgres-fast on pg1 did not finish within 300 ms/);
  });

  it.each([
    [
      'never picked up (Pending)',
      { Status: 'Pending' as const },
      HostUnreachableError,
      /not delivered within 300 ms \(Pending\)/,
    ],
    ['not visible yet', 'not-yet' as const, HostUnreachableError, /not delivered within 300 ms/],
    // Delivered: the delivery bound no longer applies, only the whole command's.
    [
      'picked up (InProgress)',
      { Status: 'InProgress' as const },
      HostCommandTimeoutError,
      /did not finish within 1200 ms/,
    ],
  ])('a delivery bound gives up on a command %s', async (_what, inv, type, message) => {
    const ssm = scriptedSsm([inv]);
    const err = await new SsmHostCommands(ssm.client, 'p', undefined, { intervalMs: 50 })
      .run(node, 'rewind-and-follow', {}, { timeoutMs: 1200, deliveryTimeoutMs: 300 })
      .catch((e) => e);
    expect(err).toBeInstanceOf(type);
    expect(err.message).toMatch(message);
    // SSM's TimeoutSeconds is the delivery bound (at least 30 s): a lost host's command must not run later.
    expect(ssm.sent[0]!.TimeoutSeconds).toBe(30);
  });

  it('without a delivery bound, TimeoutSeconds follows the whole command', async () => {
    const ssm = scriptedSsm([{ Status: 'Success', ResponseCode: 0 }]);
    await new SsmHostCommands(ssm.client, 'p', undefined, { intervalMs: 1 }).run(
      node,
      'reclone',
      {},
      { timeoutMs: 600000 },
    );
    expect(ssm.sent[0]!.TimeoutSeconds).toBe(600);
  });

  it('InvalidInstanceId (agent not connected: stopped or lost instance) is HostUnreachableError at once, not retried', async () => {
    const refusal = Object.assign(new Error('Instances [[i-0abc]] not in a valid state for account'), {
      name: 'InvalidInstanceId',
    });
    const ssm = scriptedSsm([], { refuseSend: refusal });
    const err = await new SsmHostCommands(ssm.client, 'p')
      .run(node, 'stop-postgres-immediate', {}, { timeoutMs: 8000 })
      .catch((e) => e);
    expect(err).toBeInstanceOf(HostUnreachableError);
    expect(isRetriable(err)).toBe(false);
    expect(err.message).toMatch(/SendCommand stop-postgres-immediate to pg1: InvalidInstanceId/);
    expect(ssm.polls()).toBe(0);
  });

  it.each<[string, Partial<GetCommandInvocationCommandOutput> | 'not-yet']>([
    ['Pending', { Status: 'Pending' }],
    ['Delayed', { Status: 'Delayed' }],
    ['never visible', 'not-yet'],
  ])('a command still %s at the deadline was never delivered: the host is unreachable', async (_n, inv) => {
    const ssm = scriptedSsm([inv]);
    const err = await new SsmHostCommands(ssm.client, 'p', undefined, { intervalMs: 20 })
      .run(node, 'stop-postgres-immediate', {}, { timeoutMs: 200 })
      .catch((e) => e);
    expect(err).toBeInstanceOf(HostUnreachableError);
    expect(err.message).toMatch(/stop-postgres-immediate to pg1 not delivered within 200 ms/);
  });

  it('an invocation SSM ended as Undeliverable is unreachable, not a script failure', async () => {
    const ssm = scriptedSsm([{ Status: 'Failed', StatusDetails: 'Undeliverable' }]);
    const err = await new SsmHostCommands(ssm.client, 'p')
      .run(node, 'stop-postgres-immediate', {}, { timeoutMs: 5000 })
      .catch((e) => e);
    expect(err).toBeInstanceOf(HostUnreachableError);
    expect(err.message).toMatch(/was not delivered: Undeliverable/);
  });

  it('polls at a steady short interval up to the deadline, not a doubling backoff', async () => {
    const waits: number[] = [];
    const ssm = scriptedSsm([
      { Status: 'Pending' },
      { Status: 'InProgress' },
      { Status: 'InProgress' },
      { Status: 'InProgress' },
      { Status: 'InProgress' },
      { Status: 'Success', ResponseCode: 0 },
    ]);
    const fakeSleep = async (ms: number) => {
      waits.push(ms);
    };
    await new SsmHostCommands(ssm.client, 'p', undefined, { intervalMs: 250, sleep: fakeSleep }).run(
      node,
      'stop-postgres-immediate',
      {},
      { timeoutMs: 60000 },
    );
    expect(waits).toEqual([250, 250, 250, 250, 250, 250]);
  });

  it('severConnections stops PostgreSQL within the bound it is given', async () => {
    const ssm = scriptedSsm([{ Status: 'InProgress' }]);
    const err = await new SsmHostCommands(ssm.client, 'p', undefined, { intervalMs: 20 })
      .severConnections(node, { timeoutMs: 150 })
      .catch((e) => e);
    expect(err).toBeInstanceOf(HostCommandTimeoutError);
    expect(err.message).toMatch(/stop-postgres-immediate on pg1 did not finish within 150 ms/);
  });

  it('send returns the command id without polling; wait, later, ends as run would', async () => {
    const ssm = scriptedSsm([{ Status: 'Pending' }, { Status: 'Success', ResponseCode: 0, StandardOutputContent: '' }]);
    const host = new SsmHostCommands(ssm.client, 'p', undefined, { intervalMs: 5 });
    const id = await host.send(node, 'stop-postgres-immediate', {}, { deliveryTimeoutMs: 8000 });
    expect(id).toBe('cmd-1');
    expect(ssm.polls()).toBe(0);
    // SSM's delivery bound is 30 s at least: a host back within it still gets the stop.
    expect(ssm.sent[0]).toMatchObject({ DocumentName: 'p-stop-postgres-immediate', TimeoutSeconds: 30 });
    await expect(host.wait(node, 'stop-postgres-immediate', id, { timeoutMs: 1000 })).resolves.toMatchObject({
      exitCode: 0,
    });
    expect(ssm.polls()).toBe(2);
  });

  it('wait on a command the host never picks up: HostUnreachableError at the delivery bound', async () => {
    const ssm = scriptedSsm([{ Status: 'Pending' }]);
    const err = await new SsmHostCommands(ssm.client, 'p', undefined, { intervalMs: 10 })
      .wait(node, 'stop-postgres-immediate', 'cmd-1', { timeoutMs: 100 })
      .catch((e) => e);
    expect(err).toBeInstanceOf(HostUnreachableError);
    expect(err.message).toMatch(/stop-postgres-immediate to pg1 not delivered within 100 ms \(Pending\)/);
  });

  it('send to an instance SSM does not know: HostUnreachableError, nothing to wait for', async () => {
    const refused = Object.assign(new Error('Instances not in a valid state'), { name: 'InvalidInstanceId' });
    const ssm = scriptedSsm([], { refuseSend: refused });
    const err = await new SsmHostCommands(ssm.client, 'p').send(node, 'stop-postgres-immediate', {}).catch((e) => e);
    expect(err).toBeInstanceOf(HostUnreachableError);
    expect(ssm.polls()).toBe(0);
  });
});

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
import { isRetriable } from '../../../lambdas/core/errors';

/**
 * The Run Command protocol, scripted. ministack runs SendCommand only on
 * instances backed by a Docker container (none here), so the polling path is
 * tested with this stand-in and the refusal path against the emulator
 * (aws-adapters.lab.test.ts).
 */
function scriptedSsm(invocations: (Partial<GetCommandInvocationCommandOutput> | 'not-yet')[]) {
  const sent: SendCommandCommand['input'][] = [];
  let polls = 0;
  const client = {
    send: async (cmd: unknown) => {
      if (cmd instanceof SendCommandCommand) {
        sent.push(cmd.input);
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
});

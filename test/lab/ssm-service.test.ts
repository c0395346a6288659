import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  InvalidInstanceId,
  InvocationDoesNotExist,
  ListCommandInvocationsCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { cloudProfile } from '../../lab/world/cloud-profile';
import { type AgentState, LabSsmService, STDOUT_LIMIT } from '../../lab/world/ssm-service';
import { HostCommandFailedError, SsmHostCommands } from '../../lambdas/adapters/aws/ssm-host-commands';
import { HostUnreachableError, isRetriable } from '../../lambdas/core/errors';

/**
 * The lab's SSM service spoken to with the real SDK client and the product's
 * adapter. Time is stepped by hand (an injected clock), so the tests assert
 * states, never durations.
 */
const hosts = [
  { name: 'pg1', instanceId: 'i-0000000000000001', privateIp: '10.42.1.10' },
  { name: 'pg2', instanceId: 'i-0000000000000002', privateIp: '10.42.2.10' },
];
const scriptsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-ssm-'));
fs.writeFileSync(
  path.join(scriptsDir, 'stop-postgres-immediate.sh'),
  'echo "STOPPED on $PGDATA with $SLOT_NAME secret=$SECRET_ID"; echo "$MARK" >> "$MARKER"\n',
);
fs.writeFileSync(path.join(scriptsDir, 'stop-postgres-fast.sh'), 'echo nope >&2; exit 4\n');
fs.writeFileSync(path.join(scriptsDir, 'reclone.sh'), 'head -c 30000 /dev/zero | tr "\\0" x\n');
const marker = path.join(scriptsDir, 'ran');

let clock = 1_700_000_000_000;
const agents: Record<string, AgentState> = {};
let service: LabSsmService;
let ssm: SSMClient;

function make(profile = cloudProfile('aws'), extra: { connectionLostAfterMs?: number } = {}) {
  return new LabSsmService({
    port: 0,
    profile,
    hosts: () => hosts,
    agent: (n) => agents[n] ?? 'online',
    hostEnv: (n) => ({ PGDATA: `/data/${n}`, MARKER: marker }),
    documentPrefix: 'pgquorum-lab',
    scriptsDir,
    now: () => clock,
    // Every draw lands in the middle of its range.
    random: () => 0.5,
    ...extra,
  });
}

async function start(s: LabSsmService): Promise<SSMClient> {
  await s.listen();
  const port = ((s as unknown as { server: { address(): { port: number } } }).server.address() as { port: number })
    .port;
  return new SSMClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
}

const send = (instanceId: string, doc = 'pgquorum-lab-stop-postgres-immediate', params = {}) =>
  ssm.send(
    new SendCommandCommand({
      DocumentName: doc,
      InstanceIds: [instanceId],
      Parameters: params,
      TimeoutSeconds: 30,
    }),
  );
const status = async (commandId: string, instanceId: string) => {
  service.advance();
  return ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
};
const until = async (pred: () => boolean | Promise<boolean>) => {
  for (let i = 0; i < 400 && !(await pred()); i++) await new Promise((r) => setTimeout(r, 10));
};

beforeEach(async () => {
  for (const k of Object.keys(agents)) delete agents[k];
  fs.rmSync(marker, { force: true });
  service = make();
  ssm = await start(service);
});
afterEach(async () => {
  await service.close();
});

describe('lab SSM service: a live host', () => {
  it('is Pending until the profile delivery latency has passed, then runs the script and reports Success after the completion latency', async () => {
    const sent = await send(hosts[0]!.instanceId, undefined, { SLOT_NAME: ['pg1'], SECRET_ID: ['arn:secret'] });
    const id = sent.Command!.CommandId!;
    expect(sent.Command!.Status).toBe('Pending');
    // aws profile: delivery 500-2000 ms, drawn at the middle (1250 ms).
    clock += 1249;
    expect((await status(id, hosts[0]!.instanceId)).Status).toBe('Pending');
    expect(fs.existsSync(marker)).toBe(false);
    clock += 1;
    expect((await status(id, hosts[0]!.instanceId)).Status).toBe('InProgress');
    await until(() => fs.existsSync(marker));
    await new Promise((r) => setTimeout(r, 100));
    // The script has ended, but its result is reported only after the completion latency (200-1000 ms: 600 ms).
    expect((await status(id, hosts[0]!.instanceId)).Status).toBe('InProgress');
    const listed = await ssm.send(new ListCommandInvocationsCommand({ CommandId: id, Details: true }));
    expect(listed.CommandInvocations?.map((i) => [i.InstanceName, i.Status])).toEqual([['pg1', 'InProgress']]);
    clock += 600;
    const done = await status(id, hosts[0]!.instanceId);
    expect(done).toMatchObject({ Status: 'Success', StatusDetails: 'Success', ResponseCode: 0 });
    // Parameters arrive as environment; the secret id is replaced by the lab's passwords (hostEnv).
    expect(done.StandardOutputContent).toBe('STOPPED on /data/pg1 with pg1 secret=\n');
  });

  it('keeps a held script Pending past its delivery latency, and delivers it once released', async () => {
    service.hold('stop-postgres-immediate', true);
    const id = (await send(hosts[0]!.instanceId)).Command!.CommandId!;
    clock += 5000;
    expect((await status(id, hosts[0]!.instanceId)).Status).toBe('Pending');
    expect(fs.existsSync(marker)).toBe(false);
    service.hold('stop-postgres-immediate', false);
    expect((await status(id, hosts[0]!.instanceId)).Status).toBe('InProgress');
    await until(() => fs.existsSync(marker));
  });

  it('reports a failing script as Failed with its exit code and stderr', async () => {
    const id = (await send(hosts[0]!.instanceId, 'pgquorum-lab-stop-postgres-fast')).Command!.CommandId!;
    clock += 2000;
    service.advance();
    await until(async () => {
      clock += 1000;
      return (await status(id, hosts[0]!.instanceId)).Status !== 'InProgress';
    });
    expect(await status(id, hosts[0]!.instanceId)).toMatchObject({
      Status: 'Failed',
      ResponseCode: 4,
      StandardErrorContent: 'nope\n',
    });
  });

  it('truncates stdout to what GetCommandInvocation returns', async () => {
    const id = (await send(hosts[0]!.instanceId, 'pgquorum-lab-reclone')).Command!.CommandId!;
    await until(async () => {
      clock += 1000;
      return (await status(id, hosts[0]!.instanceId)).Status === 'Success';
    });
    expect((await status(id, hosts[0]!.instanceId)).StandardOutputContent).toHaveLength(STDOUT_LIMIT);
  });

  it('answers an unknown invocation with InvocationDoesNotExist and an unknown document with InvalidDocument', async () => {
    await expect(
      ssm.send(new GetCommandInvocationCommand({ CommandId: 'nope', InstanceId: hosts[0]!.instanceId })),
    ).rejects.toBeInstanceOf(InvocationDoesNotExist);
    await expect(send(hosts[0]!.instanceId, 'pgquorum-other-stop-postgres-fast')).rejects.toMatchObject({
      name: 'InvalidDocument',
    });
  });

  it("once the stack's documents are registered, refuses an undeclared parameter or a value outside its pattern", async () => {
    service.registerDocuments({
      'pgquorum-lab-stop-postgres-immediate': {
        script: 'stop-postgres-immediate',
        parameters: { SLOT_NAME: { allowedPattern: "^[^'\\n]*$" } },
      },
    });
    await expect(send(hosts[0]!.instanceId, undefined, { SLOT_NAME: ["pg'1"] })).rejects.toMatchObject({
      name: 'InvalidParameters',
      message: expect.stringMatching(/SLOT_NAME .* allowed pattern/),
    });
    await expect(send(hosts[0]!.instanceId, undefined, { NOPE: ['x'] })).rejects.toMatchObject({
      name: 'InvalidParameters',
    });
    await expect(send(hosts[0]!.instanceId, 'pgquorum-lab-reclone')).rejects.toMatchObject({ name: 'InvalidDocument' });
    expect((await send(hosts[0]!.instanceId, undefined, { SLOT_NAME: ['pg1'] })).Command!.Status).toBe('Pending');
  });

  it("runs through the product's SsmHostCommands adapter (ideal profile: no latency)", async () => {
    await service.close();
    service = make(cloudProfile('ideal'));
    ssm = await start(service);
    const out = await new SsmHostCommands(ssm, 'pgquorum-lab').run(
      { name: 'pg2', instanceId: hosts[1]!.instanceId },
      'stop-postgres-immediate',
      { SLOT_NAME: 'x' },
      { timeoutMs: 10000 },
    );
    expect(out).toEqual({ exitCode: 0, stdout: 'STOPPED on /data/pg2 with x secret=\n', stderr: '' });
    const failed = await new SsmHostCommands(ssm, 'pgquorum-lab')
      .run({ name: 'pg2', instanceId: hosts[1]!.instanceId }, 'stop-postgres-fast', {}, { timeoutMs: 10000 })
      .catch((e) => e);
    expect(failed).toBeInstanceOf(HostCommandFailedError);
    expect(failed.message).toMatch(/stop-postgres-fast on pg2 ended Failed: nope/);
  });
});

describe('lab SSM service: a lost host', () => {
  it('accepts the command and never delivers it; it turns TimedOut (DeliveryTimedOut) when the delivery timeout expires', async () => {
    agents.pg1 = 'lost';
    const id = (await send(hosts[0]!.instanceId)).Command!.CommandId!;
    clock += 60_000;
    expect((await status(id, hosts[0]!.instanceId)).Status).toBe('Pending');
    // TimeoutSeconds (30 s) plus the document's execution timeout (900 s).
    clock += 870_000;
    expect(await status(id, hosts[0]!.instanceId)).toMatchObject({
      Status: 'TimedOut',
      StatusDetails: 'DeliveryTimedOut',
      ResponseCode: -1,
    });
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('runs the command if the agent comes back before it expires, as the real agent does', async () => {
    agents.pg1 = 'lost';
    const id = (await send(hosts[0]!.instanceId)).Command!.CommandId!;
    clock += 10_000;
    expect((await status(id, hosts[0]!.instanceId)).Status).toBe('Pending');
    agents.pg1 = 'online';
    expect((await status(id, hosts[0]!.instanceId)).Status).toBe('InProgress');
    await until(() => fs.existsSync(marker));
  });

  it('keeps PingStatus Online until the agent has been lost for connectionLostAfterMs, then ConnectionLost', async () => {
    agents.pg1 = 'lost';
    const ping = async () => {
      service.advance();
      const r = await ssm.send(
        new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [hosts[0]!.instanceId] }] }),
      );
      return r.InstanceInformationList?.map((i) => i.PingStatus);
    };
    expect(await ping()).toEqual(['Online']);
    clock += 299_999;
    expect(await ping()).toEqual(['Online']);
    clock += 1;
    expect(await ping()).toEqual(['ConnectionLost']);
    // The product's adapter reads the same status: the fence's early "unreachable" (core knownUnreachable).
    const adapter = new SsmHostCommands(ssm, 'pgquorum-lab');
    expect(await adapter.agentStatus({ name: 'pg1', instanceId: hosts[0]!.instanceId })).toBe('ConnectionLost');
    expect(await adapter.agentStatus({ name: 'pg2', instanceId: hosts[1]!.instanceId })).toBe('Online');
    // An instance SSM does not know: no status (no command would reach it either), not an error.
    expect(await adapter.agentStatus({ name: 'pgx', instanceId: 'i-00000000000000ff' })).toBeUndefined();
    agents.pg1 = 'online';
    expect(await ping()).toEqual(['Online']);
  });
});

describe('lab SSM service: a stopped instance', () => {
  it('refuses SendCommand with InvalidInstanceId (the adapter: HostUnreachableError naming the node, not retried: the fence decides at once) and is not listed', async () => {
    agents.pg2 = 'stopped';
    const err = await send(hosts[1]!.instanceId).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidInstanceId);
    expect(err.message).toContain(hosts[1]!.instanceId);
    const viaAdapter = await new SsmHostCommands(ssm, 'pgquorum-lab')
      .run({ name: 'pg2', instanceId: hosts[1]!.instanceId }, 'stop-postgres-immediate', {}, { timeoutMs: 5000 })
      .catch((e) => e);
    expect(viaAdapter).toBeInstanceOf(HostUnreachableError);
    expect(isRetriable(viaAdapter)).toBe(false);
    expect(viaAdapter.message).toMatch(
      /SendCommand stop-postgres-immediate to pg2: .*InvalidInstanceId|not in a valid state/,
    );
    const info = await ssm.send(new DescribeInstanceInformationCommand({}));
    expect(info.InstanceInformationList?.map((i) => i.InstanceId)).toEqual([hosts[0]!.instanceId]);
    // Not listed, so the adapter reports no status for it (EC2's stopped state is what tells the fence).
    expect(
      await new SsmHostCommands(ssm, 'pgquorum-lab').agentStatus({ name: 'pg2', instanceId: hosts[1]!.instanceId }),
    ).toBeUndefined();
  });

  it('refuses an instance that is not a lab node (no agent registered) with InvalidInstanceId', async () => {
    await expect(send('i-0fffffffffffffff0')).rejects.toBeInstanceOf(InvalidInstanceId);
  });

  it('shows a command accepted before the stop as Delayed while the instance is stopped', async () => {
    agents.pg1 = 'lost';
    const id = (await send(hosts[0]!.instanceId)).Command!.CommandId!;
    agents.pg1 = 'stopped';
    expect((await status(id, hosts[0]!.instanceId)).Status).toBe('Delayed');
  });
});

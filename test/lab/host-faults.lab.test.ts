import {
  DescribeInstancesCommand,
  type EC2Client,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { DescribeInstanceInformationCommand, InvalidInstanceId, SendCommandCommand } from '@aws-sdk/client-ssm';
import { Client } from 'pg';
import { Lab } from '../../lab/world/index';
import { makeClients } from '../../lambdas/adapters/aws/clients';
import { SsmHostCommands } from '../../lambdas/adapters/aws/ssm-host-commands';
import { HostUnreachableError, isRetriable } from '../../lambdas/core/errors';

/**
 * The lab's SSM service and host faults, through the same endpoints the
 * deployed functions use (AWS_ENDPOINT_URL_SSM from the lab's environment).
 * Waits are for states, never for durations.
 */
let lab: Lab;
let aws: ReturnType<typeof makeClients>;
let ec2: EC2Client;
const host = () => new SsmHostCommands(aws.ssm, 'pgquorum-lab');
const node = (name: string) => ({ name, instanceId: lab.instanceId(name) });

async function until<T>(what: string, f: () => Promise<T | undefined | false>, timeoutMs = 20000): Promise<T> {
  const by = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > by) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function instanceState(name: string): Promise<string | undefined> {
  const r = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [lab.instanceId(name)] }));
  return r.Reservations?.[0]?.Instances?.[0]?.State?.Name;
}

async function pid(name: string): Promise<number | null> {
  return (await lab.status()).nodes.find((n) => n.name === name)!.pid;
}

beforeAll(async () => {
  lab = await Lab.attach();
  expect(lab.awsEnv.AWS_ENDPOINT_URL_SSM).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  aws = makeClients({ requestTimeoutMs: 5000 });
  ec2 = aws.ec2;
});

beforeEach(async () => {
  await lab.reset();
}, 120000);

afterAll(async () => {
  await lab.reset();
}, 120000);

describe('lab SSM service', () => {
  it("delivers a live host's command: the script runs on the node and the invocation reports Success", async () => {
    const out = await host().run(node('pg3'), 'stop-postgres-immediate', {}, { timeoutMs: 30000 });
    expect(out.stdout).toContain('STOPPED=immediate');
    expect(await pid('pg3')).toBeNull();
    const inv = (await lab.ssmInvocations()).filter((i) => i.node === 'pg3');
    expect(inv.map((i) => [i.script, i.status])).toEqual([['stop-postgres-immediate', 'Success']]);
  }, 60000);

  it("never delivers a lost host's command: accepted, Pending after the adapter gives up, PostgreSQL untouched", async () => {
    const before = await pid('pg2');
    await lab.hostLoss('pg2', { instance: 'running' });
    const err = await host()
      .run(node('pg2'), 'stop-postgres-immediate', {}, { timeoutMs: 3000 })
      .catch((e) => e);
    // Still Pending at the adapter's deadline: never delivered, so the host counts as unreachable (the fence decides).
    expect(err).toBeInstanceOf(HostUnreachableError);
    expect(err.message).toMatch(/stop-postgres-immediate to pg2 not delivered within 3000 ms \(Pending\)/);
    expect((await lab.ssmInvocations()).filter((i) => i.node === 'pg2').map((i) => i.status)).toEqual(['Pending']);
    expect(await pid('pg2')).toBe(before);
    expect((await lab.hosts()).pg2).toMatchObject({ agent: 'lost', instance: 'running' });
    // Nothing in the lab's own stop path reaches it either.
    await expect(lab.pgStop('pg2', 'immediate')).rejects.toThrow(/host pg2 is unreachable \(host-loss\)/);
  }, 60000);

  it('refuses a stopped instance with InvalidInstanceId and leaves it out of DescribeInstanceInformation', async () => {
    await lab.hostLoss('pg3', { instance: 'stopped' });
    expect(await instanceState('pg3')).toBe('stopped');
    expect(await pid('pg3')).toBeNull();
    const err = await aws.ssm
      .send(
        new SendCommandCommand({
          DocumentName: 'pgquorum-lab-stop-postgres-immediate',
          InstanceIds: [lab.instanceId('pg3')],
          TimeoutSeconds: 30,
        }),
      )
      .catch((e) => e);
    expect(err).toBeInstanceOf(InvalidInstanceId);
    const viaAdapter = await host()
      .run(node('pg3'), 'stop-postgres-immediate', {}, { timeoutMs: 3000 })
      .catch((e) => e);
    expect(viaAdapter).toBeInstanceOf(HostUnreachableError);
    expect(isRetriable(viaAdapter)).toBe(false);
    expect(viaAdapter.message).toMatch(
      /SendCommand stop-postgres-immediate to pg3: InvalidInstanceId: .*not in a valid state/,
    );
    const info = await aws.ssm.send(new DescribeInstanceInformationCommand({}));
    expect(info.InstanceInformationList?.map((i) => i.InstanceId).sort()).toEqual(
      [lab.instanceId('pg1'), lab.instanceId('pg2')].sort(),
    );
  }, 60000);
});

describe('host faults', () => {
  it('host loss black-holes every path and keeps established sessions open (a lost host sends no FIN)', async () => {
    const c = new Client({ ...lab.nodeConnection('pg1'), connectionTimeoutMillis: 2000 });
    c.on('error', () => undefined);
    await c.connect();
    await lab.hostLoss('pg1', { instance: 'stopped' });
    const g = (await lab.gates()).pg1!;
    expect(g.cut.sort()).toEqual(['az-a', 'az-b', 'az-c', 'client', 'repl']);
    expect(Object.values(g.cutModes)).toEqual(['blackhole', 'blackhole', 'blackhole', 'blackhole', 'blackhole']);
    // The postmaster is dead, yet the client's connection is still tracked: nothing told it.
    expect(await pid('pg1')).toBeNull();
    expect(g.perPath.client).toBeGreaterThanOrEqual(1);
    c.end().catch(() => undefined);
  }, 60000);

  it('a hung host stays frozen: the lab stop path refuses it; cont wakes it', async () => {
    await lab.hungHost('pg2');
    expect((await lab.status()).nodes.find((n) => n.name === 'pg2')!.role).toBe('stopped');
    await expect(lab.pgStop('pg2', 'immediate')).rejects.toThrow(/host pg2 is unreachable \(hung-host\)/);
    expect((await lab.hosts()).pg2).toMatchObject({ agent: 'lost', fault: { kind: 'hung-host' } });
    await lab.cont('pg2');
    expect((await lab.hosts()).pg2).toMatchObject({ agent: 'online', fault: null });
    await until('pg2 to answer again', async () => (await lab.status()).nodes.find((n) => n.name === 'pg2')!.up);
  }, 60000);

  it("STONITH: the product's StopInstances (Force) stops the host for real; StartInstances boots it again", async () => {
    await ec2.send(new StopInstancesCommand({ InstanceIds: [lab.instanceId('pg3')], Force: true }));
    await until('the postmaster of the stopped pg3 to die', async () => (await pid('pg3')) === null);
    expect((await lab.hosts()).pg3).toMatchObject({ agent: 'stopped', instance: 'stopped' });
    await ec2.send(new StartInstancesCommand({ InstanceIds: [lab.instanceId('pg3')] }));
    await until('pg3 to boot and answer', async () => (await lab.status()).nodes.find((n) => n.name === 'pg3')!.up);
    expect((await lab.hosts()).pg3).toMatchObject({ agent: 'online', instance: 'running', fault: null });
  }, 60000);

  it('an AZ outage loses the node(s) in that AZ', async () => {
    expect(await lab.azOutage('us-east-1b')).toEqual(['pg2']);
    expect((await lab.hosts()).pg2).toMatchObject({ agent: 'lost', fault: { kind: 'host-loss' } });
    expect((await lab.hosts()).pg1!.fault).toBeNull();
  }, 60000);

  it('reset heals every host fault and starts stopped instances', async () => {
    await lab.hostLoss('pg2', { instance: 'stopped' });
    await lab.hungHost('pg3');
    await lab.reset();
    const h = await lab.hosts();
    for (const n of ['pg1', 'pg2', 'pg3'])
      expect(h[n]).toMatchObject({ agent: 'online', instance: 'running', fault: null });
    expect(await instanceState('pg2')).toBe('running');
    expect((await lab.status()).nodes.map((n) => n.role)).toEqual(['primary', 'replica', 'replica']);
  }, 60000);
});

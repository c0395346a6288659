import { ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateVpcCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { CreateHostedZoneCommand } from '@aws-sdk/client-route-53';
import { CreateStateMachineCommand, DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { marshall } from '@aws-sdk/util-dynamodb';
import { createClusterTable } from '../../../lab/world/seed';
import { makeClients } from '../../../lambdas/adapters/aws/clients';
import { CloudWatchMetrics, METRIC_NAMESPACE } from '../../../lambdas/adapters/aws/cloudwatch-metrics';
import { DynamoStore, LeaseConflictError } from '../../../lambdas/adapters/aws/dynamo-store';
import { Ec2Fence } from '../../../lambdas/adapters/aws/ec2-fence';
import { Route53Dns } from '../../../lambdas/adapters/aws/route53-dns';
import { SfnStarter } from '../../../lambdas/adapters/aws/sfn-starter';
import { SsmHostCommands } from '../../../lambdas/adapters/aws/ssm-host-commands';
import { acquireLease, classifyVote, DEFAULT_SETTINGS, initialLease, restorableIngress } from '../../../lambdas/core';
import { HostUnreachableError, isRetriable } from '../../../lambdas/core/errors';
import { registrySeed } from '../../../lambdas/core/registry-seed';
import type { StoredVote } from '../../../lambdas/ports/store-port';

const aws = makeClients();
const run = `t${Date.now().toString(36)}`;
const table = `pgq-test-${run}`;
let store: DynamoStore;

beforeAll(async () => {
  await createClusterTable(aws.ddb, table);
  store = new DynamoStore(aws.ddb, table, 'c1');
  await aws.ddb.send(
    new PutItemCommand({
      TableName: table,
      Item: marshall({ pk: 'CLUSTER#c1', sk: 'LEASE', ...initialLease('pg1', 1) }),
    }),
  );
}, 60000);

describe('DynamoDB store: seeding', () => {
  it('seeds a lease only where the cluster has none (a seed never resets a running lease)', async () => {
    const seeded = new DynamoStore(aws.ddb, table, 'c-seed');
    const { lease, nodes } = registrySeed({
      initialPrimary: 'pg1',
      nodes: [{ name: 'pg1', instanceId: 'i-1', az: 'a', privateIp: '10.0.0.1', port: 5432, securityGroupId: 'sg-1' }],
      now: 5,
    });
    await seeded.seedLease(lease);
    for (const n of nodes) await seeded.putNode(n);
    expect(await seeded.getLease()).toEqual(lease);
    expect(await seeded.listNodes()).toEqual(nodes);
    await expect(seeded.seedLease({ ...lease, primary: 'pg2' })).rejects.toThrow(LeaseConflictError);
    expect((await seeded.getLease()).primary).toBe('pg1');
  });
});

describe('DynamoDB store: lease', () => {
  it('lets exactly one of two racing acquirers win', async () => {
    const l = await store.getLease();
    const take = (holder: string) => {
      const r = acquireLease(l, { mode: 'failover', holder, now: Date.now(), durationMs: 60000, reason: 'race' });
      if (!r.ok) throw new Error(r.reason);
      return store.putLease(r.lease, { epoch: l.epoch, state: l.state });
    };
    const results = await Promise.allSettled([take('a'), take('b')]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(LeaseConflictError);
    expect(lost.reason.message).toMatch(/expected epoch 1 \(steady\), found epoch 2 \(failing-over\)/);
    expect((await store.getLease()).epoch).toBe(2);
  });

  it('refuses a write from a stale epoch', async () => {
    const l = await store.getLease();
    await expect(
      store.putLease({ ...l, state: 'steady' }, { epoch: l.epoch - 1, state: 'failing-over' }),
    ).rejects.toThrow(LeaseConflictError);
  });
});

describe('DynamoDB store: votes, fence snapshots, events', () => {
  const v = (seq: number, ok: boolean): StoredVote => ({
    az: 'az-a',
    seq,
    observedAt: Date.now(),
    primary: 'pg1',
    primaryOk: ok,
    consecutiveFailures: ok ? 0 : 3,
    nodes: { pg1: { ok, role: 'primary', currentLsn: '0/1' } },
  });

  it('moves a vote sequence only forward', async () => {
    expect(await store.putVote(v(5, true))).toBe(true);
    expect(await store.putVote(v(4, false))).toBe(false);
    expect(await store.putVote(v(5, false))).toBe(false);
    expect(await store.putVote(v(6, false))).toBe(true);
    const votes = await store.getVotes();
    expect(votes).toHaveLength(1);
    expect(votes[0]).toMatchObject({ seq: 6, primaryOk: false, nodes: { pg1: { currentLsn: '0/1' } } });
    expect(votes[0]?.primaryUnknown).toBeUndefined();
  });

  it('reads back a vote that could not judge the primary as such (else the quorum counts it as a failure)', async () => {
    const refused = "pg1 refused the controller's credentials (28P01)";
    expect(await store.putVote({ ...v(7, false), primaryUnknown: refused })).toBe(true);
    const [back] = await store.getVotes();
    expect(back).toMatchObject({ seq: 7, primaryOk: false, consecutiveFailures: 3, primaryUnknown: refused });
    expect(classifyVote(back!, 'pg1', Date.now(), DEFAULT_SETTINGS)).toMatchObject({
      kind: 'unusable',
      reason: `not judged: ${refused}`,
    });
  });

  it('keeps the first fence snapshot', async () => {
    const first = { node: 'pg1', securityGroupId: 'sg-1', rules: '[{"x":1}]', epoch: 2, fencedAt: 1 };
    await store.saveFenceSnapshot(first);
    const second = await store.saveFenceSnapshot({ ...first, rules: '[]', epoch: 3 });
    expect(second).toEqual(first);
  });

  it('records an event timeline once per step', async () => {
    const e = {
      epoch: 2,
      kind: 'failover' as const,
      startedAt: 1,
      outcome: 'running' as const,
      oldPrimary: 'pg1',
      reason: 'test',
      timeline: [],
    };
    await store.startEvent(e);
    await store.startEvent({ ...e, reason: 'duplicate start' });
    await store.appendTimeline(2, { step: 'fence', at: 5, detail: 'revoked 1 rule' });
    await store.appendTimeline(2, { step: 'fence', at: 6, detail: 'revoked 1 rule' });
    await store.updateEvent(2, { outcome: 'committed', newPrimary: 'pg2', bytesAtRisk: '0' });
    const got = await store.getEvent(2);
    expect(got).toMatchObject({ reason: 'test', outcome: 'committed', newPrimary: 'pg2', bytesAtRisk: '0' });
    expect(got!.timeline).toEqual([{ step: 'fence', at: 5, detail: 'revoked 1 rule' }]);
    expect((await store.listEvents()).map((x) => x.epoch)).toEqual([2]);
  });
});

describe('EC2 fence', () => {
  it('snapshots, revokes, verifies and restores idempotently', async () => {
    const vpc = await aws.ec2.send(new CreateVpcCommand({ CidrBlock: '10.77.0.0/16' }));
    const sg = await aws.ec2.send(
      new CreateSecurityGroupCommand({ GroupName: `fence-${run}`, Description: 'fence test', VpcId: vpc.Vpc!.VpcId }),
    );
    const node = { name: 'pgx', securityGroupId: sg.GroupId! };
    await aws.ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: node.securityGroupId,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, IpRanges: [{ CidrIp: '10.77.0.0/16' }] }],
      }),
    );
    const fence = new Ec2Fence(aws.ec2, store);
    expect(await fence.ingressClosed(node.securityGroupId)).toBe(false);
    expect(await fence.revokeIngress(node, 9)).toEqual({ revokedRules: 1 });
    expect(await fence.ingressClosed(node.securityGroupId)).toBe(true);
    expect(await fence.revokeIngress(node, 9)).toEqual({ revokedRules: 0 });
    expect(JSON.parse((await store.getFenceSnapshot('pgx'))!.rules)).toHaveLength(1);
    expect(await fence.restoreIngress(node)).toEqual({ restoredRules: 1 });
    expect(await fence.ingressClosed(node.securityGroupId)).toBe(false);
    expect(await fence.restoreIngress(node)).toEqual({ restoredRules: 0 });
    expect(await store.getFenceSnapshot('pgx')).toBeUndefined();
  });

  it('restores from a tampered snapshot only what the deploy config allows (issue 15): never 0.0.0.0/0', async () => {
    const vpc = await aws.ec2.send(new CreateVpcCommand({ CidrBlock: '10.78.0.0/16' }));
    const sg = await aws.ec2.send(
      new CreateSecurityGroupCommand({ GroupName: `tamper-${run}`, Description: 'tamper test', VpcId: vpc.Vpc!.VpcId }),
    );
    const node = { name: 'pgt', securityGroupId: sg.GroupId! };
    const rule = (cidr: string) => ({ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, IpRanges: [{ CidrIp: cidr }] });
    // What a writer to the table could leave behind: the real rule plus the world.
    await store.saveFenceSnapshot({
      node: node.name,
      securityGroupId: node.securityGroupId,
      rules: JSON.stringify([rule('10.78.0.0/16'), rule('0.0.0.0/0')]),
      epoch: 3,
      fencedAt: Date.now(),
    });
    const fence = new Ec2Fence(aws.ec2, store);
    const r = await fence.restoreIngress(node, (snap) =>
      restorableIngress({
        node: node.name,
        configuredGroupId: node.securityGroupId,
        snapshotGroupId: snap.securityGroupId,
        rules: snap.rules,
        allowed: { cidrs: ['10.78.0.0/16'], securityGroupIds: [] },
      }),
    );
    expect(r.restoredRules).toBe(1);
    expect(r.reason).toMatch(/not restored, the deploy config does not allow them: tcp 5432-5432 from 0\.0\.0\.0\/0/);
    const g = await aws.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [node.securityGroupId] }));
    const cidrs = (g.SecurityGroups?.[0]?.IpPermissions ?? []).flatMap((p) => (p.IpRanges ?? []).map((x) => x.CidrIp));
    expect(cidrs).toEqual(['10.78.0.0/16']);
  });
});

describe('EC2 instance (STONITH)', () => {
  it('reports the instance state, stops it with Force and no OS shutdown, and a second stop is harmless', async () => {
    const vm = await aws.ec2.send(new RunInstancesCommand({ ImageId: 'ami-12345678', MinCount: 1, MaxCount: 1 }));
    const instanceId = vm.Instances![0]!.InstanceId!;
    // What the adapter asks EC2 for, as sent (a hung guest would hold a graceful shutdown for its whole timeout).
    const stops: unknown[] = [];
    const ec2 = new EC2Client({ maxAttempts: 1 });
    ec2.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'StopInstancesCommand') stops.push(args.input);
        return next(args);
      },
      { step: 'initialize' },
    );
    const fence = new Ec2Fence(ec2, store);
    expect(await fence.instanceState(instanceId)).toBe('running');
    await fence.stopInstance(instanceId);
    let state = await fence.instanceState(instanceId);
    for (let i = 0; i < 50 && state !== 'stopped'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      state = await fence.instanceState(instanceId);
    }
    expect(state).toBe('stopped');
    expect(stops).toEqual([{ InstanceIds: [instanceId], Force: true, SkipOsShutdown: true }]);
    await fence.stopInstance(instanceId);
    expect(await fence.instanceState('i-0123456789abcdef0')).toBeUndefined();
  });
});

describe('Route 53', () => {
  it('flips a private record without waiting, and reports the change INSYNC through one GetChange', async () => {
    const vpc = await aws.ec2.send(new CreateVpcCommand({ CidrBlock: '10.78.0.0/16' }));
    const zone = await aws.r53.send(
      new CreateHostedZoneCommand({
        Name: `${run}.internal`,
        CallerReference: run,
        VPC: { VPCId: vpc.Vpc!.VpcId, VPCRegion: 'us-east-1' },
      }),
    );
    const dns = new Route53Dns(aws.r53, zone.HostedZone!.Id!.replace('/hostedzone/', ''), 1);
    const name = `writer.${run}.internal`;
    const { changeId } = await dns.setRecord(name, ['10.78.1.10']);
    expect(await dns.getRecord(name)).toEqual(['10.78.1.10']);
    // The emulator answers PENDING first, then INSYNC: the adapter reports each answer, it never waits.
    const seen: boolean[] = [];
    for (let i = 0; i < 20 && !seen.includes(true); i++) {
      seen.push(await dns.changeInsync(changeId));
      if (!seen.at(-1)) await new Promise((r) => setTimeout(r, 250));
    }
    expect(seen.at(-1)).toBe(true);
    await dns.setRecord(name, ['10.78.2.10']);
    expect(await dns.getRecord(name)).toEqual(['10.78.2.10']);
    // The lab reads the TTL too (its resolver endpoints honour it): the TTL the adapter was given.
    expect(await dns.getRecordSet(name)).toEqual({ ips: ['10.78.2.10'], ttlSec: 1 });
    expect(await dns.getRecordSet(`reader.${run}.internal`)).toBeUndefined();
  });
});

describe('Step Functions starter', () => {
  it('collapses duplicate starts of the same epoch', async () => {
    const sm = await aws.sfn.send(
      new CreateStateMachineCommand({
        name: `starter-${run}`,
        roleArn: 'arn:aws:iam::000000000000:role/x',
        definition: JSON.stringify({ StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 1, End: true } } }),
      }),
    );
    const starter = new SfnStarter(aws.sfn, sm.stateMachineArn!);
    const input = { mode: 'failover' as const, cluster: 'c1', reason: 'test' };
    const [a, b] = [await starter.start(input, 8, 1000), await starter.start(input, 8, 1000)];
    expect(a).toMatchObject({ alreadyStarted: false, name: 'c1-failover-e8-vrs' });
    expect(a.executionArn).toMatch(/c1-failover-e8-vrs$/);
    expect(b).toMatchObject({ alreadyStarted: true, name: 'c1-failover-e8-vrs' });
    // The same epoch decided on another version of the lease (a restored table, a reset lab) is a new run.
    const c = await starter.start(input, 8, 2000);
    expect(c).toMatchObject({ alreadyStarted: false, name: 'c1-failover-e8-v1jk' });
  });

  it('starts again under a fresh name when the execution of that name ended without taking the lease', async () => {
    const sm = await aws.sfn.send(
      new CreateStateMachineCommand({
        name: `starter-fail-${run}`,
        roleArn: 'arn:aws:iam::000000000000:role/x',
        definition: JSON.stringify({ StartAt: 'F', States: { F: { Type: 'Fail', Error: 'InputRejected' } } }),
      }),
    );
    const starter = new SfnStarter(aws.sfn, sm.stateMachineArn!);
    const input = { mode: 'failover' as const, cluster: 'c2', reason: 'test' };
    const ended = async (arn: string) => {
      for (let i = 0; i < 100; i++) {
        const r = await aws.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
        if (r.status !== 'RUNNING') return r.status;
        await new Promise((res) => setTimeout(res, 100));
      }
      return 'RUNNING';
    };
    const a = await starter.start(input, 3, 1000);
    expect(a).toMatchObject({ alreadyStarted: false, name: 'c2-failover-e3-vrs' });
    expect(await ended(a.executionArn!)).toBe('FAILED');
    const b = await starter.start(input, 3, 1000);
    expect(b).toMatchObject({
      alreadyStarted: false,
      name: 'c2-failover-e3-vrs-r1',
      replaced: ['c2-failover-e3-vrs'],
    });
    expect(b.executionArn).toMatch(/c2-failover-e3-vrs-r1$/);
  });
});

describe('CloudWatch metrics', () => {
  it('publishes per-AZ reachability with the cluster dimension', async () => {
    const m = new CloudWatchMetrics(aws.cw, `c-${run}`);
    await m.primaryReachable('az-a', true);
    await m.flush();
    expect(m.failures).toBe(0);
    const r = await aws.cw.send(
      new ListMetricsCommand({ Namespace: METRIC_NAMESPACE, MetricName: 'PrimaryReachable' }),
    );
    const dims = (r.Metrics ?? []).map((x) => Object.fromEntries((x.Dimensions ?? []).map((d) => [d.Name, d.Value])));
    expect(dims).toContainEqual({ Cluster: `c-${run}`, Az: 'az-a' });
  });

  it('publishes replica lag per node and cluster-wide (the series the lag alarm watches), in one call per flush', async () => {
    const m = new CloudWatchMetrics(aws.cw, `c-${run}`);
    await m.replicaLag('pg2', 10);
    await m.replicaLag('pg3', 20);
    await m.flush();
    expect(m.failures).toBe(0);
    const r = await aws.cw.send(new ListMetricsCommand({ Namespace: METRIC_NAMESPACE, MetricName: 'ReplicaLagBytes' }));
    const dims = (r.Metrics ?? []).map((x) => Object.fromEntries((x.Dimensions ?? []).map((d) => [d.Name, d.Value])));
    expect(dims).toEqual(
      expect.arrayContaining([
        { Cluster: `c-${run}` },
        { Cluster: `c-${run}`, Node: 'pg2' },
        { Cluster: `c-${run}`, Node: 'pg3' },
      ]),
    );
  });
});

describe('SSM host commands (emulator)', () => {
  it('an instance Run Command cannot reach (agent down, stopped) is HostUnreachableError at once: the fence decides, it does not retry', async () => {
    // Lab instances have no agent behind them, as an instance whose SSM agent died: SendCommand is refused.
    const vm = await aws.ec2.send(new RunInstancesCommand({ ImageId: 'ami-12345678', MinCount: 1, MaxCount: 1 }));
    const instanceId = vm.Instances![0]!.InstanceId!;
    const err = await new SsmHostCommands(aws.ssm, `pgquorum-${run}`, 'arn:secret')
      .run({ name: 'pgx', instanceId }, 'stop-postgres-fast', {}, { timeoutMs: 5000 })
      .catch((e) => e);
    expect(err).toBeInstanceOf(HostUnreachableError);
    expect(isRetriable(err)).toBe(false);
    expect(err.message).toMatch(
      new RegExp(`SendCommand stop-postgres-fast to pgx: InvalidInstanceId: .*${instanceId}`),
    );
  });
});

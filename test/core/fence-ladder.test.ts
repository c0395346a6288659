import {
  afterStopInstance,
  awaitsHostStop,
  DEFAULT_SETTINGS,
  describeFencedNode,
  type FenceLadderView,
  fenceLadder,
  knownUnreachable,
  parseSettings,
  quorumStandsIn,
  unreachableHostPolicy,
} from '../../lambdas/core';

const sync = DEFAULT_SETTINGS;
const async_ = { ...DEFAULT_SETTINGS, replicationMode: 'async' as const };
const withPolicy = (s: typeof sync, unreachableHost: 'quorum' | 'stop-instance' | 'operator') => ({
  ...s,
  fence: { ...s.fence, unreachableHost },
});
const base = { node: 'pg1', instanceId: 'i-0abc' };
const stopped = { kind: 'stopped', detail: 'postgres stopped immediately, 2 tracked connection(s) closed' } as const;
const invalid = { kind: 'unreachable', detail: 'SendCommand: InvalidInstanceId' } as const;
const undelivered = { kind: 'unreachable', detail: 'not delivered within 8000 ms (Pending)' } as const;
const failed = { kind: 'failed', detail: 'HostCommandTimeoutError: did not finish within 8000 ms' } as const;
const sent = { kind: 'sent', detail: 'SSM command c-1' } as const;

describe('fence ladder', () => {
  it.each<[string, Omit<FenceLadderView, 'node' | 'instanceId'>, string, RegExp]>([
    [
      'the SSM stop worked: fenced, whatever the policy',
      { settings: withPolicy(sync, 'operator'), hostStop: stopped },
      'stop-postgres',
      /^ingress revoked and PostgreSQL stopped: postgres stopped immediately, 2 tracked/,
    ],
    [
      'sync, default policy, InvalidInstanceId: fence by quorum',
      { settings: sync, hostStop: invalid, instanceState: 'running' },
      'quorum',
      /host unreachable \(SendCommand: InvalidInstanceId\): fencing by quorum.*ANY 1 primary with no standby acknowledges nothing/,
    ],
    [
      'sync, default policy, a command never delivered (hung host): fence by quorum',
      { settings: sync, hostStop: undelivered },
      'quorum',
      /host unreachable \(not delivered within 8000 ms \(Pending\)\): fencing by quorum/,
    ],
    [
      'sync, delivered but not finished in the bound: PostgreSQL may run, fence by quorum',
      { settings: sync, hostStop: failed },
      'quorum',
      /PostgreSQL not confirmed stopped \(HostCommandTimeoutError.*\): fencing by quorum/,
    ],
    [
      'sync, default: the stop sent and not awaited, the quorum fence at once',
      { settings: sync, hostStop: sent, instanceState: 'running' },
      'quorum',
      /^stop of PostgreSQL sent, not awaited \(SSM command c-1\): fencing by quorum \(sync mode: detach every replica/,
    ],
    [
      'a stop sent with a policy other than quorum (the config refuses it): PostgreSQL is not confirmed stopped, STONITH',
      { settings: async_, hostStop: sent, instanceState: 'running' },
      'stop-instance',
      /^stop of PostgreSQL sent, not awaited \(SSM command c-1\): stopping i-0abc/,
    ],
    [
      'async, default policy: STONITH with Force, bounded',
      { settings: async_, hostStop: invalid, instanceState: 'running' },
      'stop-instance',
      /host unreachable.*: stopping i-0abc \(StopInstances with Force, waiting up to 45 s for stopped\)/,
    ],
    [
      'sync with stop-instance configured: STONITH',
      { settings: withPolicy(sync, 'stop-instance'), hostStop: undelivered, instanceState: 'running' },
      'stop-instance',
      /stopping i-0abc/,
    ],
    [
      'stop-instance on an instance EC2 already reports stopped: nothing to send, VerifyFence proves it',
      {
        settings: async_,
        hostStop: { kind: 'unreachable', detail: 'EC2 reports i-0abc stopped' },
        instanceState: 'stopped',
      },
      'stop-instance',
      /EC2 reports i-0abc stopped$/,
    ],
    [
      'operator: one sentence naming the node, what was tried and the next command',
      { settings: withPolicy(sync, 'operator'), hostStop: invalid },
      'operator',
      /^pg1 \(i-0abc\) could not be fenced automatically: ingress revoked; host unreachable \(SendCommand: InvalidInstanceId\); policy operator\. .*aws ec2 stop-instances --force --instance-ids i-0abc.*pgquorum failover --to <replica> --force/,
    ],
    [
      'quorum forced into async settings by hand (the config refuses it): never fences async by quorum',
      { settings: withPolicy(async_, 'quorum'), hostStop: invalid },
      'operator',
      /quorum fencing refused in async mode/,
    ],
  ])('%s', (_name, view, rung, reason) => {
    const d = fenceLadder({ ...base, ...view });
    expect(d.rung).toBe(rung);
    expect(d.reason).toMatch(reason);
  });

  it('marks an instance already stopped so no StopInstances is sent', () => {
    expect(fenceLadder({ ...base, settings: async_, hostStop: invalid, instanceState: 'stopped' }).alreadyStopped).toBe(
      true,
    );
    expect(fenceLadder({ ...base, settings: async_, hostStop: invalid, instanceState: 'running' }).alreadyStopped).toBe(
      undefined,
    );
  });

  it.each<[string, string | undefined, boolean, RegExp]>([
    ['stopped within the bound', 'stopped', true, /i-0abc is stopped \(STONITH\)/],
    ['still stopping at the bound: an operator', 'stopping', false, /EC2 reports stopping after 45 s/],
    ['EC2 did not answer: an operator', undefined, false, /EC2 reports no state after 45 s/],
  ])('after StopInstances: %s', (_name, instanceState, ok, reason) => {
    const r = afterStopInstance({ ...base, instanceState, waitedSec: 45, tried: 'ingress revoked' });
    expect(r.ok).toBe(ok);
    expect(r.reason).toMatch(reason);
  });
});

describe('quorumStandsIn: a stop sent and not awaited', () => {
  it.each<[string, string[], boolean, string]>([
    [
      'every other node detached',
      [],
      true,
      'every other node detached from pg1: the quorum fence holds without the stop',
    ],
    [
      'a replica did not answer (it may still stream from the old primary)',
      ['pg3'],
      false,
      'pg3 did not answer the detach, so the quorum fence cannot be proven: waiting for the stop of pg1',
    ],
    [
      'two did not',
      ['pg2', 'pg3'],
      false,
      'pg2, pg3 did not answer the detach, so the quorum fence cannot be proven: waiting for the stop of pg1',
    ],
  ])('%s', (_n, notDetached, standsIn, reason) => {
    expect(quorumStandsIn({ node: 'pg1', notDetached })).toEqual({ standsIn, reason });
  });
});

describe('unreachable-host policy', () => {
  it.each<[string, unknown, string]>([
    ['sync defaults to quorum', {}, 'quorum'],
    ['async defaults to stop-instance', { replicationMode: 'async' }, 'stop-instance'],
    ['configured wins', { fence: { unreachableHost: 'operator' } }, 'operator'],
    [
      'async with stop-instance',
      { replicationMode: 'async', fence: { unreachableHost: 'stop-instance' } },
      'stop-instance',
    ],
  ])('%s', (_name, raw, policy) => {
    expect(unreachableHostPolicy(parseSettings(raw))).toBe(policy);
  });

  it('refuses quorum fencing in async mode, naming the field', () => {
    expect(() => parseSettings({ replicationMode: 'async', fence: { unreachableHost: 'quorum' } })).toThrow(
      /fence\.unreachableHost: quorum fencing needs replicationMode sync/,
    );
  });

  it('refuses bounds that together outlast the fence function, naming the field', () => {
    expect(() => parseSettings({ fence: { hostStopTimeoutSec: 30, stopInstanceTimeoutSec: 60 } })).toThrow(
      /fence\.stopInstanceTimeoutSec: hostStopTimeoutSec \+ stopInstanceTimeoutSec must be at most 75 s/,
    );
  });

  it.each<[string, unknown, boolean]>([
    ['sync (policy quorum): the stop is not awaited', {}, false],
    ['sync, awaitHostStop true: awaited', { fence: { awaitHostStop: true } }, true],
    ['async (policy stop-instance): awaited', { replicationMode: 'async' }, true],
    ['sync with policy operator: awaited', { fence: { unreachableHost: 'operator' } }, true],
    ['sync with onNoSyncStandby degrade (policy stop-instance): awaited', { onNoSyncStandby: 'degrade' }, true],
  ])('awaitsHostStop: %s', (_name, raw, want) => {
    expect(awaitsHostStop(parseSettings(raw))).toBe(want);
  });

  it.each<[string, unknown, RegExp]>([
    [
      'async',
      { replicationMode: 'async', fence: { awaitHostStop: false } },
      /fence\.awaitHostStop: false needs the unreachable-host policy quorum \(here stop-instance\)/,
    ],
    [
      'sync with policy operator',
      { fence: { unreachableHost: 'operator', awaitHostStop: false } },
      /fence\.awaitHostStop: false needs the unreachable-host policy quorum \(here operator\)/,
    ],
  ])('refuses not awaiting the stop without the quorum fence (%s), naming the field', (_name, raw, msg) => {
    expect(() => parseSettings(raw)).toThrow(msg);
  });

  it('bounds the SSM stop so the ladder fits the fence function’s timeout', () => {
    expect(() => parseSettings({ fence: { hostStopTimeoutSec: 120 } })).toThrow(/fence\.hostStopTimeoutSec/);
  });
});

describe('fenced node condition (abort notification)', () => {
  it.each<[string, Parameters<typeof describeFencedNode>[0], string]>([
    [
      'host lost: ingress revoked, PostgreSQL not confirmed, instance running',
      { ...base, ingressRevoked: true, instanceState: 'running' },
      'pg1: ingress revoked, PostgreSQL not confirmed stopped, instance i-0abc running',
    ],
    [
      'all known',
      { ...base, ingressRevoked: true, postgresStopped: true, instanceState: 'stopped' },
      'pg1: ingress revoked, PostgreSQL stopped, instance i-0abc stopped',
    ],
    [
      'EC2 did not answer',
      { ...base },
      'pg1: ingress unknown, PostgreSQL not confirmed stopped, instance i-0abc state unknown',
    ],
  ])('%s', (_name, c, text) => {
    expect(describeFencedNode(c)).toBe(text);
  });
});

describe('knownUnreachable: the host is beyond a command before one is sent', () => {
  it.each<[string, { instanceState?: string; agentStatus?: string }, string | null]>([
    ['running, agent online', { instanceState: 'running', agentStatus: 'Online' }, null],
    ['nothing known (both APIs silent): the command is tried', {}, null],
    ['stopped', { instanceState: 'stopped' }, 'EC2 reports i-1 stopped'],
    ['stopping', { instanceState: 'stopping', agentStatus: 'Online' }, 'EC2 reports i-1 stopping'],
    ['terminated', { instanceState: 'terminated' }, 'EC2 reports i-1 terminated'],
    [
      'running but the agent lost',
      { instanceState: 'running', agentStatus: 'ConnectionLost' },
      'SSM reports the agent on i-1 ConnectionLost',
    ],
    ['the agent lost, EC2 silent', { agentStatus: 'ConnectionLost' }, 'SSM reports the agent on i-1 ConnectionLost'],
    ['an inactive agent is no proof either way', { instanceState: 'running', agentStatus: 'Inactive' }, null],
  ])('%s', (_n, v, want) => {
    expect(knownUnreachable({ instanceId: 'i-1', ...v })).toBe(want);
  });
});

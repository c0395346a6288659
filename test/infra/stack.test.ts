import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { STACK_OUTPUTS } from '../../cli/stack-outputs';
import { buildApp } from '../../infra/app';
import { recordNames } from '../../infra/config';
import { RETRY_ERRORS } from '../../infra/constructs/failover-state-machine';
import { TASKS } from '../../infra/constructs/tasks';
import type { PgQuorumStack } from '../../infra/stacks/pgquorum-stack';
import { HOST_SCRIPTS } from '../../lambdas/ports/host-command-port';
import { emfOf, recordEverything } from '../adapters/aws/emf-fixtures';
import { type Json, sampleConfig, testApp, useSynthesizedApp } from './fixtures';

let stack: PgQuorumStack;
let template: Template;
let t: Json;
let outdir: string;
let synthError: unknown;

useSynthesizedApp({ build: (app) => buildApp(app).stack, context: { pgquorum: sampleConfig() } }, (x) => {
  ({ stack, template, t, outdir, synthError } = x);
});

const resourcesOf = (type: string): [string, Json][] =>
  Object.entries(t.Resources as Record<string, Json>).filter(([, r]) => r.Type === type);
const definition = (): Json => {
  const [[, sm]] = resourcesOf('AWS::StepFunctions::StateMachine') as [[string, Json]];
  // Function ARNs are Fn::GetAtt objects inside an Fn::Join: stringify them to parse the ASL.
  const parts = sm.Properties.DefinitionString['Fn::Join'][1] as unknown[];
  return JSON.parse(parts.map((p: Json) => (typeof p === 'string' ? p : `fn:${p['Fn::GetAtt'][0]}`)).join(''));
};
const logicalIdOf = (c: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(c.node.defaultChild as Parameters<typeof stack.getLogicalId>[0]);

describe('cdk-nag AwsSolutions', () => {
  it('has no unacknowledged finding (synth passes validation with an empty report)', () => {
    expect(synthError).toBeUndefined();
    const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
    const violations = (report.pluginReports as Json[]).flatMap((p) => p.violations ?? []);
    expect(violations).toEqual([]);
  });

  it('does fail a stack with a known violation (the check is live)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-nag-'));
    try {
      const app = new App({ outdir: dir });
      new sns.Topic(new Stack(app, 'Bad'), 'PlainTopic');
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
      expect(() => app.synth()).toThrow(/AwsSolutions-SNS3/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves no error or warning annotation on the stack', () => {
    const a = Annotations.fromStack(stack);
    expect(a.findError('*', Match.anyValue())).toEqual([]);
    expect(a.findWarning('*', Match.anyValue())).toEqual([]);
  });
});

describe('probes', () => {
  it('runs three probe functions, each in a distinct subnet matching its AZ', () => {
    const cfg = stack.config;
    const probes = stack.probes.map((p) => t.Resources[logicalIdOf(p)]);
    expect(probes).toHaveLength(3);
    const subnets = probes.map((p) => p.Properties.VpcConfig.SubnetIds as string[]);
    for (const [i, s] of subnets.entries()) {
      expect(s).toEqual([cfg.probeSubnets[i]!.subnetId]);
      expect(probes[i].Properties.Environment.Variables.PGQ_AZ).toBe(cfg.probeSubnets[i]!.az);
      expect(probes[i].Properties.Runtime).toBe('nodejs22.x');
    }
    expect(new Set(subnets.flat()).size).toBe(3);
  });

  it('starts each probe every minute from its own schedule', () => {
    const scheduled = resourcesOf('AWS::Events::Rule')
      .filter(([, r]) => r.Properties.ScheduleExpression === 'rate(1 minute)')
      .flatMap(([, r]) => r.Properties.Targets.map((x: Json) => x.Arn['Fn::GetAtt'][0]));
    expect(scheduled.sort()).toEqual(stack.probes.map(logicalIdOf).sort());
  });
});

describe('alarm backstop', () => {
  it('alarms when at least 2 of the 3 AZs report the primary unreachable', () => {
    const [[alarmId, alarm]] = resourcesOf('AWS::CloudWatch::Alarm').filter(
      ([id]) => id === logicalIdOf(stack.quorumAlarm),
    ) as [[string, Json]];
    expect(alarmId).toBeDefined();
    expect(alarm.Properties.Threshold).toBe(2);
    expect(alarm.Properties.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
    const metrics = alarm.Properties.Metrics as Json[];
    const perAz = metrics.filter((m) => m.MetricStat);
    expect(perAz.map((m) => m.MetricStat.Metric.MetricName)).toEqual(Array(3).fill('PrimaryReachable'));
    expect(perAz.map((m) => m.MetricStat.Metric.Namespace)).toEqual(Array(3).fill('PgQuorum'));
    const azs = perAz.map((m) => m.MetricStat.Metric.Dimensions.find((d: Json) => d.Name === 'Az').Value);
    expect(azs.sort()).toEqual(stack.config.probeSubnets.map((s) => s.az).sort());
    for (const m of perAz)
      expect(m.MetricStat.Metric.Dimensions).toContainEqual({ Name: 'Cluster', Value: stack.config.cluster });
    // A silent probe must never look like a down vote (fail static): missing data fills as reachable.
    const expr = metrics.find((m) => m.Expression).Expression as string;
    expect(expr).toMatch(/FILL\(\w+, 1\)/);
  });

  it('routes the alarm (ALARM state) through EventBridge to the state machine with a failover input', () => {
    const smId = logicalIdOf(stack.stateMachine.stateMachine);
    const alarmId = logicalIdOf(stack.quorumAlarm);
    const rules = resourcesOf('AWS::Events::Rule').filter(([, r]) => r.Properties.EventPattern);
    expect(rules).toHaveLength(1);
    const [, rule] = rules[0]!;
    expect(rule.Properties.EventPattern).toEqual({
      source: ['aws.cloudwatch'],
      'detail-type': ['CloudWatch Alarm State Change'],
      resources: [{ 'Fn::GetAtt': [alarmId, 'Arn'] }],
      detail: { state: { value: ['ALARM'] } },
    });
    const [target] = rule.Properties.Targets;
    expect(target.Arn).toEqual({ Ref: smId });
    const input = JSON.parse(target.Input);
    expect(input.input ?? input).toMatchObject({ mode: 'failover', cluster: stack.config.cluster });
  });

  it('has the probes-silent, failover-failed, aborted, timed-out, needs-attention, lag and sync-standby alarms, all to the topic', () => {
    const alarms = resourcesOf('AWS::CloudWatch::Alarm').map(([, r]) => r.Properties);
    const byMetric = (name: string) => alarms.filter((a) => a.MetricName === name);
    const silent = byMetric('PrimaryReachable');
    expect(silent).toHaveLength(3);
    for (const a of silent) expect(a.TreatMissingData).toBe('breaching');
    expect(byMetric('ExecutionsFailed')).toHaveLength(1);
    // Stopped and timed-out executions never reach Abort: each pages on its own, pointing at the lease break.
    for (const m of ['ExecutionsAborted', 'ExecutionsTimedOut']) {
      expect(byMetric(m)).toHaveLength(1);
      expect(byMetric(m)[0]).toMatchObject({ Threshold: 1, EvaluationPeriods: 1, TreatMissingData: 'notBreaching' });
      expect(byMetric(m)[0].AlarmDescription).toContain('lease break');
    }
    expect(byMetric('NeedsAttention')).toHaveLength(1);
    expect(byMetric('ReplicaLagBytes')[0]?.Threshold).toBe(stack.config.thresholds.maxLagBytes);
    expect(byMetric('SyncStandbyMissing')).toHaveLength(0);
    expect(byMetric('UnnamedPrimary')).toEqual([
      expect.objectContaining({ Statistic: 'Maximum', Period: 10, Threshold: 1, EvaluationPeriods: 2 }),
    ]);
    const [[topicId]] = resourcesOf('AWS::SNS::Topic') as [[string, Json]];
    for (const a of alarms) expect(a.AlarmActions).toEqual([{ Ref: topicId }]);
  });
});

describe('sync-standby alarm', () => {
  it('fires within one 10 s period of a loss lasting syncStandbyAlarmSec (high-resolution seconds-since metric)', () => {
    const [a, ...more] = resourcesOf('AWS::CloudWatch::Alarm')
      .map(([, r]) => r.Properties)
      .filter((p) => p.MetricName === 'SyncStandbyMissingSeconds');
    expect(more).toHaveLength(0);
    expect(a).toMatchObject({
      Statistic: 'Maximum',
      Period: 10,
      EvaluationPeriods: 1,
      Threshold: stack.config.thresholds.syncStandbyAlarmSec,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    // The bound the issue sets: a 30 s loss always fires (threshold + one period < 30 s + evaluation).
    expect(a.Threshold + a.Period * a.EvaluationPeriods).toBeLessThanOrEqual(30);
  });

  it('takes syncStandbyAlarmSec from the thresholds', () => {
    const app = testApp({ pgquorum: { ...sampleConfig(), thresholds: { syncStandbyAlarmSec: 12 } } });
    const s = buildApp(app).stack;
    const alarms = Template.fromStack(s).findResources('AWS::CloudWatch::Alarm', {
      Properties: { MetricName: 'SyncStandbyMissingSeconds' },
    });
    expect(Object.values(alarms).map((r) => (r as Json).Properties.Threshold)).toEqual([12]);
  });
});

describe('state machine', () => {
  it('gives every Task state a retry on transient errors with backoff', () => {
    const tasks = allStates(definition()).filter(([, s]) => s.Type === 'Task');
    expect(tasks.length).toBeGreaterThanOrEqual(Object.keys(TASKS).length);
    for (const [id, s] of tasks) {
      const retry = (s.Retry ?? []) as Json[];
      expect({ id, ok: retry.some((r) => r.ErrorEquals.includes('Pgq.Retriable') && r.BackoffRate > 1) }).toEqual({
        id,
        ok: true,
      });
      for (const e of RETRY_ERRORS) expect(retry[0].ErrorEquals).toContain(e);
      expect(retry[0].ErrorEquals).not.toContain('Pgq.Fatal');
    }
  });

  it('catches States.ALL into $.error on every task; after the lease, failures end in Abort then Fail', () => {
    const def = definition();
    const top = def.States as Record<string, Json>;
    const catchOf = (id: string) => {
      const c = top[id].Catch as Json[] | undefined;
      expect({ id, c: c?.length }).toEqual({ id, c: 1 });
      expect(c![0].ErrorEquals).toEqual(['States.ALL']);
      return c![0];
    };
    // Before the lease: nothing changed, nothing to abort.
    expect(catchOf('ValidateInput')).toMatchObject({ Next: 'InputRejected', ResultPath: '$.error' });
    expect(top.InputRejected.Type).toBe('Fail');
    expect(catchOf('AcquireLease')).toMatchObject({ Next: 'LeaseNotAcquired', ResultPath: '$.error' });
    expect(top.LeaseNotAcquired.Type).toBe('Fail');
    // Best effort after the commit: a crashed rejoin does not fail the committed run, but it is settled (the node
    // marked needs-rejoin, outside the VPC), and a failed settle ends in Done.
    expect(catchOf('RejoinOldPrimary')).toMatchObject({ Next: 'SettleRejoin', ResultPath: '$.rejoinError' });
    expect(catchOf('RestartOldAsReplica')).toMatchObject({ Next: 'SettleRestart', ResultPath: '$.rejoinError' });
    for (const id of ['SettleRejoin', 'SettleRestart']) expect(catchOf(id).Next).toBe('Done');
    const postCommit = [
      'CheckDnsInsync',
      'CheckDnsInsyncSwitchover',
      'RejoinOldPrimary',
      'RestartOldAsReplica',
      'SettleRejoin',
      'SettleRestart',
    ];
    const guarded = Object.entries(top).filter(
      ([id, s]) =>
        (s.Type === 'Task' || s.Type === 'Map') &&
        !['ValidateInput', 'AcquireLease', 'Abort', ...postCommit].includes(id),
    );
    expect(guarded.map(([id]) => id).sort()).toEqual(
      [
        'ConfirmQuorum',
        'SelectCandidate',
        'Fence',
        'VerifyFence',
        'Promote',
        'FlipDns',
        'RepointReplicas',
        'ConfirmCandidate',
        'Commit',
        'CheckTarget',
        'StopOldPrimary',
        'WaitForReplay',
        'PromoteTarget',
        'FlipDnsToTarget',
        'RepointOthers',
        'CommitSwitchover',
        'RollbackSwitchover',
        'FinishRollback',
        'Replan',
      ].sort(),
    );
    // A switchover failing after the old primary stopped and before the promotion rolls back (invariant 9):
    // each catch goes through a Pass naming the step, then RollbackSwitchover, FinishRollback, RolledBack.
    const rollsBack = ['StopOldPrimary', 'WaitForReplay', 'PromoteTarget'];
    for (const id of rollsBack) {
      expect(catchOf(id)).toMatchObject({ Next: `${id}Failed`, ResultPath: '$.error' });
      expect(top[`${id}Failed`]).toMatchObject({
        Type: 'Pass',
        Result: id,
        ResultPath: '$.rollbackFrom',
        Next: 'RollbackSwitchover',
      });
    }
    expect(top.RollbackSwitchover.Next).toBe('FinishRollback');
    expect(top.FinishRollback.Next).toBe('RolledBack');
    expect(top.RolledBack.Type).toBe('Succeed');
    // A failed candidate re-plans (issue 13): Promote's every failure, and the Map's CandidateFailed, go to Replan,
    // which loops back to SelectCandidate and whose own failure goes to Abort.
    // ConfirmCandidate probes the candidate before Commit: one lost after the last re-point re-plans too.
    const replanning = ['Promote', 'RepointReplicas', 'ConfirmCandidate'];
    expect(catchOf('Promote')).toMatchObject({ ErrorEquals: ['States.ALL'], Next: 'Replan', ResultPath: '$.error' });
    for (const id of ['RepointReplicas', 'ConfirmCandidate']) {
      expect({ id, c: top[id].Catch }).toEqual({
        id,
        c: [
          { ErrorEquals: ['Pgq.CandidateFailed'], Next: 'Replan', ResultPath: '$.error' },
          { ErrorEquals: ['States.ALL'], Next: 'Abort', ResultPath: '$.error' },
        ],
      });
    }
    // A switchover's target failing after its promotion is not re-planned: its steps abort as before.
    for (const id of ['FlipDns', 'Commit', 'FlipDnsToTarget', 'CommitSwitchover'])
      expect(catchOf(id).Next).toBe('Abort');
    expect(top.Replan.Next).toBe('SelectCandidate');
    for (const [id] of guarded.filter(([id]) => !rollsBack.includes(id) && !replanning.includes(id)))
      expect(catchOf(id)).toMatchObject({ Next: 'Abort', ResultPath: '$.error' });
    expect(top.Abort.Next).toBe('Failed');
    expect(top.Failed.Type).toBe('Fail');
    expect(catchOf('Abort').Next).toBe('AbortFailed');
  });

  it('runs the failover and switchover steps in order', () => {
    const top = definition().States as Record<string, Json>;
    const catchOf = (id: string) => (top[id].Catch as Json[])[0];
    const path = (from: string) => {
      const seen: string[] = [];
      for (let id: string | undefined = from; id; ) {
        // A loop (the INSYNC poll) ends the walk at its first repeated state.
        const repeat = seen.includes(id);
        seen.push(id);
        if (repeat) break;
        const s: Json = top[id];
        id = s.Type === 'Choice' ? (s.Default ?? s.Choices.at(-1).Next) : s.Next;
      }
      return seen;
    };
    expect(definition().StartAt).toBe('ValidateInput');
    expect(top.Mode.Choices).toEqual([{ Variable: '$.input.mode', StringEquals: 'switchover', Next: 'CheckTarget' }]);
    expect(top['QuorumConfirmed?'].Choices[0].Next).toBe('NoFailover');
    expect(top['QuorumConfirmed?'].Default).toBe('SelectCandidate');
    // After a re-plan the old primary's fence is already proven: straight to Promote.
    expect(top['FenceProven?'].Choices).toEqual([{ Variable: '$.replan', IsPresent: true, Next: 'Promote' }]);
    expect(path('SelectCandidate')).toEqual([
      'SelectCandidate',
      'FenceProven?',
      'Fence',
      'VerifyFence',
      'Promote',
      'RepointReplicas',
      'FlipDns',
      'ConfirmCandidate',
      'Commit',
      'CheckDnsInsync',
      'DnsInsync?',
      'WaitForDns',
      'CheckDnsInsync',
    ]);
    // The INSYNC loop ends into the rejoin; a failed poll also goes on to it, never to Abort.
    expect(top['DnsInsync?'].Choices).toEqual([
      { Variable: '$.dnsWait.done', BooleanEquals: true, Next: 'RejoinOldPrimary' },
    ]);
    expect(catchOf('CheckDnsInsync')).toMatchObject({ Next: 'RejoinOldPrimary', ResultPath: '$.dnsWaitError' });
    expect(top.WaitForDns).toMatchObject({ Type: 'Wait', Seconds: 2 });
    expect(path('RejoinOldPrimary')).toEqual(['RejoinOldPrimary', 'SettleRejoin', 'Done']);
    expect(path('CheckTarget')).toEqual([
      'CheckTarget',
      'StopOldPrimary',
      'WaitForReplay',
      'PromoteTarget',
      'RepointOthers',
      'FlipDnsToTarget',
      'CommitSwitchover',
      'CheckDnsInsyncSwitchover',
      'DnsInsyncSwitchover?',
      'WaitForDnsSwitchover',
      'CheckDnsInsyncSwitchover',
    ]);
    expect(top['DnsInsyncSwitchover?'].Choices[0].Next).toBe('RestartOldAsReplica');
    expect(catchOf('CheckDnsInsyncSwitchover')).toMatchObject({ Next: 'RestartOldAsReplica' });
    expect(path('RestartOldAsReplica')).toEqual(['RestartOldAsReplica', 'SettleRestart', 'Done']);
    expect(top.RepointReplicas.ItemsPath).toBe('$.replicas');
  });

  it('is a Standard workflow that logs to a log group, with tracing', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL' }),
    });
  });
});

describe('table', () => {
  it('is on demand, with PITR, TTL on expiresAt, deletion protection and RETAIN', () => {
    const [[, table]] = resourcesOf('AWS::DynamoDB::Table') as [[string, Json]];
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      DeletionProtectionEnabled: true,
    });
  });

  it('keeps its logical id, so an update never replaces the table (and with it the lease and the history)', () => {
    // CloudFormation replaces a resource whose logical id changes: a refactor that moves the table into another
    // construct must pin this id (overrideLogicalId), never let it drift.
    expect(resourcesOf('AWS::DynamoDB::Table').map(([id]) => id)).toEqual(['TableCD117FA1']);
  });
});

describe('IAM least privilege', () => {
  // Actions AWS does not let a policy scope to a resource (each acknowledged for cdk-nag in the stack).
  const UNSCOPABLE = new Set([
    'ec2:DescribeSecurityGroups',
    'ec2:DescribeInstances',
    'ssm:GetCommandInvocation',
    'ssm:DescribeInstanceInformation',
    'cloudwatch:PutMetricData',
    'xray:PutTraceSegments',
    'xray:PutTelemetryRecords',
    'xray:GetSamplingRules',
    'xray:GetSamplingTargets',
    'logs:CreateLogDelivery',
    'logs:GetLogDelivery',
    'logs:UpdateLogDelivery',
    'logs:DeleteLogDelivery',
    'logs:ListLogDeliveries',
    'logs:PutResourcePolicy',
    'logs:DescribeResourcePolicies',
    'logs:DescribeLogGroups',
  ]);
  const statementsOf = (roleFilter?: (roleId: string) => boolean) =>
    resourcesOf('AWS::IAM::Policy')
      .filter(([, p]) => !roleFilter || (p.Properties.Roles as Json[]).some((r) => roleFilter(r.Ref)))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[]);
  const list = (x: unknown) => (Array.isArray(x) ? x : [x]);
  const roleOf = (name: keyof typeof TASKS) => {
    const fn = t.Resources[logicalIdOf(stack.functions[name])];
    return fn.Properties.Role['Fn::GetAtt'][0] as string;
  };

  it('uses Resource "*" only for actions AWS cannot scope, PutMetricData only with a namespace condition', () => {
    for (const s of statementsOf()) {
      if (!list(s.Resource).includes('*')) continue;
      for (const a of list(s.Action))
        expect({ action: a, unscopable: UNSCOPABLE.has(a) }).toEqual({ action: a, unscopable: true });
      if (list(s.Action).includes('cloudwatch:PutMetricData'))
        expect(s.Condition).toEqual({ StringEquals: { 'cloudwatch:namespace': 'PgQuorum' } });
    }
  });

  it('lets only the fencing functions change security groups, and only the nodes’ groups', () => {
    const sgArns = stack.config.nodes.map((n) => n.securityGroupId);
    const changers = new Set<string>();
    for (const [, p] of resourcesOf('AWS::IAM::Policy')) {
      for (const s of p.Properties.PolicyDocument.Statement as Json[]) {
        if (!list(s.Action).some((a: string) => /^ec2:(Revoke|Authorize)/.test(a))) continue;
        for (const r of p.Properties.Roles as Json[]) changers.add(r.Ref);
        const ids = list(s.Resource).map((r: Json) => JSON.stringify(r).match(/security-group\/(sg-[0-9a-f]+)/)?.[1]);
        expect(ids).toEqual(sgArns);
      }
    }
    // replan fences a failed candidate, abort a candidate its run promoted (issue 13).
    expect([...changers].sort()).toEqual(
      [
        roleOf('fence'),
        roleOf('rejoin-old-primary'),
        roleOf('rollback-switchover'),
        roleOf('replan'),
        roleOf('abort'),
      ].sort(),
    );
  });

  it('lets only the fence stop instances (STONITH), and only the node instances of this stack', () => {
    const stoppers = new Set<string>();
    for (const [, p] of resourcesOf('AWS::IAM::Policy')) {
      for (const s of p.Properties.PolicyDocument.Statement as Json[]) {
        if (!list(s.Action).includes('ec2:StopInstances')) continue;
        for (const r of p.Properties.Roles as Json[]) stoppers.add(r.Ref);
        const ids = list(s.Resource).map((r: Json) => JSON.stringify(r).match(/instance\/(i-[0-9a-f]+)/)?.[1]);
        expect(ids).toEqual(stack.config.nodes.map((n) => n.instanceId));
      }
    }
    expect([...stoppers]).toEqual([roleOf('fence')]);
  });

  it('sends SSM commands only to the node instances and the pgquorum documents', () => {
    for (const s of statementsOf()) {
      if (!list(s.Action).includes('ssm:SendCommand')) continue;
      const targets = list(s.Resource).map((r: Json) => JSON.stringify(r));
      expect(targets).toHaveLength(stack.config.nodes.length + HOST_SCRIPTS.length);
      for (const n of stack.config.nodes)
        expect(targets.some((x) => x.includes(`instance/${n.instanceId}`))).toBe(true);
      for (const d of HOST_SCRIPTS)
        expect(targets.some((x) => x.includes(`document/pgquorum-${stack.config.cluster}-${d}`))).toBe(true);
    }
  });

  it('lets only the out-of-VPC DNS steps (flip-dns, settle-rejoin, finish-rollback) change records, only in the configured zone', () => {
    const writers = resourcesOf('AWS::IAM::Policy').filter(([, p]) =>
      (p.Properties.PolicyDocument.Statement as Json[]).some((s) =>
        list(s.Action).includes('route53:ChangeResourceRecordSets'),
      ),
    );
    expect(writers.map(([, p]) => p.Properties.Roles[0].Ref).sort()).toEqual(
      [roleOf('flip-dns'), roleOf('settle-rejoin'), roleOf('finish-rollback')].sort(),
    );
    for (const [, w] of writers) {
      const stmt = (w.Properties.PolicyDocument.Statement as Json[]).find((s) =>
        list(s.Action).includes('route53:ChangeResourceRecordSets'),
      );
      expect(JSON.stringify(stmt.Resource)).toContain(`hostedzone/${stack.config.hostedZoneId}`);
    }
  });

  it('limits record changes to UPSERTs of the writer and reader A records, named as Route 53 normalizes them', () => {
    const names = recordNames(stack.config);
    const stmts = statementsOf().filter((s) => list(s.Action).includes('route53:ChangeResourceRecordSets'));
    expect(stmts.length).toBeGreaterThan(0);
    for (const s of stmts) {
      expect(list(s.Action)).toEqual(['route53:ChangeResourceRecordSets']);
      expect(s.Condition).toEqual({
        'ForAllValues:StringEquals': {
          'route53:ChangeResourceRecordSetsNormalizedRecordNames': [
            names.writer.toLowerCase().replace(/\.$/, ''),
            names.reader.toLowerCase().replace(/\.$/, ''),
          ],
          'route53:ChangeResourceRecordSetsRecordTypes': ['A'],
          'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
        },
      });
    }
  });

  it('lets only the functions that connect to PostgreSQL read the database secret; the others run without it', () => {
    const readers = new Set<string>();
    for (const [, p] of resourcesOf('AWS::IAM::Policy')) {
      for (const s of p.Properties.PolicyDocument.Statement as Json[]) {
        if (!list(s.Action).includes('secretsmanager:GetSecretValue')) continue;
        for (const r of p.Properties.Roles as Json[]) readers.add(r.Ref);
      }
    }
    const connecting = (Object.keys(TASKS) as (keyof typeof TASKS)[]).filter((n) =>
      (TASKS[n].needs as readonly string[]).includes('postgres'),
    );
    const probeRoles = stack.probes.map((p) => t.Resources[logicalIdOf(p)].Properties.Role['Fn::GetAtt'][0]);
    expect([...readers].sort()).toEqual([...connecting.map(roleOf), ...probeRoles].sort());
    // The list agrees with the handlers' code: a step connects when it calls the pg port (a deadline is no call),
    // builds a cluster view (which probes every node), probes the new primary (requireNewPrimary) or uses the
    // database credentials.
    const connects =
      /d\.pg\s*\.(?!probeDeadlineMs)|buildClusterView|requireNewPrimary|d\.repl\b|d\.db\b|from '\.\/follow'/;
    for (const name of Object.keys(TASKS) as (keyof typeof TASKS)[]) {
      const src = fs.readFileSync(path.join(__dirname, '../../lambdas/handlers', `${TASKS[name].entry}.ts`), 'utf8');
      expect({ name, connects: connects.test(src) }).toEqual({ name, connects: connecting.includes(name) });
    }
    for (const name of Object.keys(TASKS) as (keyof typeof TASKS)[]) {
      const env = t.Resources[logicalIdOf(stack.functions[name])].Properties.Environment.Variables;
      expect({ name, access: env.PGQ_DB_ACCESS }).toEqual({
        name,
        access: connecting.includes(name) ? undefined : 'none',
      });
    }
  });

  it('grants table access on the table only', () => {
    const [[tableId]] = resourcesOf('AWS::DynamoDB::Table') as [[string, Json]];
    for (const s of statementsOf()) {
      if (!list(s.Action).some((a: string) => a.startsWith('dynamodb:'))) continue;
      for (const r of list(s.Resource)) expect(JSON.stringify(r)).toContain(tableId);
    }
  });

  it('lets only the probes and the alarm rule start executions, of this state machine', () => {
    const smId = logicalIdOf(stack.stateMachine.stateMachine);
    const [, rule] = resourcesOf('AWS::Events::Rule').find(([, r]) => r.Properties.EventPattern)!;
    const probeRoles = [
      ...stack.probes.map((p) => t.Resources[logicalIdOf(p)].Properties.Role['Fn::GetAtt'][0]),
      rule.Properties.Targets[0].RoleArn['Fn::GetAtt'][0],
    ];
    const starters = resourcesOf('AWS::IAM::Policy').filter(([, p]) =>
      (p.Properties.PolicyDocument.Statement as Json[]).some((s) => list(s.Action).includes('states:StartExecution')),
    );
    expect(starters.map(([, p]) => p.Properties.Roles[0].Ref).sort()).toEqual(probeRoles.sort());
    for (const [, p] of starters)
      for (const s of p.Properties.PolicyDocument.Statement as Json[])
        if (list(s.Action).includes('states:StartExecution')) expect(s.Resource).toEqual({ Ref: smId });
  });
});

describe('placement, endpoints, topic, documents, secret', () => {
  it('keeps flip-dns out of the VPC (Route 53 has no VPC endpoint) and the PostgreSQL clients in it', () => {
    for (const [name, spec] of Object.entries(TASKS)) {
      const fn = t.Resources[logicalIdOf(stack.functions[name as keyof typeof TASKS])];
      expect({ name, inVpc: Boolean(fn.Properties.VpcConfig) }).toEqual({ name, inVpc: spec.needsVpc });
    }
    // Route 53 has no VPC endpoint: every step that writes a record must run outside the VPC.
    for (const name of ['flip-dns', 'settle-rejoin', 'finish-rollback'] as const)
      expect(TASKS[name].needsVpc).toBe(false);
    // And no step that runs in the VPC calls the DNS port (directly or through the shared rejoin helper).
    for (const [name, spec] of Object.entries(TASKS)) {
      if (!spec.needsVpc) continue;
      for (const file of [`${spec.entry}.ts`, 'follow.ts', 'cluster-view.ts']) {
        const src = fs.readFileSync(path.join(__dirname, '../../lambdas/handlers', file), 'utf8');
        expect({ name, file, callsDns: /\.dns\./.test(src) }).toEqual({ name, file, callsDns: false });
      }
    }
  });

  it('creates the DynamoDB gateway endpoint and the interface endpoints the in-VPC functions call', () => {
    const gateway = resourcesOf('AWS::EC2::VPCEndpoint').filter(([, r]) => r.Properties.VpcEndpointType === 'Gateway');
    expect(gateway).toHaveLength(1);
    expect(JSON.stringify(gateway[0]![1].Properties.ServiceName)).toContain('dynamodb');
    const services = resourcesOf('AWS::EC2::VPCEndpoint')
      .filter(([, r]) => r.Properties.VpcEndpointType === 'Interface')
      .map(([, r]) => JSON.stringify(r.Properties.ServiceName).match(/\.(\w+)"?\]?\]?\}?"?$/)?.[1] ?? '')
      .sort();
    // No monitoring endpoint: metrics are EMF log lines (see the EMF cross-check below).
    expect(services).toEqual(['ec2', 'secretsmanager', 'sns', 'ssm', 'states'].sort());
    // The functions' group must let HTTPS out to the gateway endpoint (DynamoDB's public addresses).
    const egress = resourcesOf('AWS::EC2::SecurityGroup').flatMap(([, g]) => g.Properties.SecurityGroupEgress ?? []);
    expect(egress).toContainEqual(expect.objectContaining({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443 }));
  });

  it('encrypts the alarm topic with KMS and enforces SSL', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      }),
    });
  });

  it('has one versioned SSM document per host script, carrying the script text', () => {
    const docs = resourcesOf('AWS::SSM::Document');
    expect(docs.map(([, d]) => d.Properties.Name).sort()).toEqual(
      HOST_SCRIPTS.map((s) => `pgquorum-${stack.config.cluster}-${s}`).sort(),
    );
    for (const [, d] of docs) {
      const script = d.Properties.Name.replace(`pgquorum-${stack.config.cluster}-`, '');
      const text = fs.readFileSync(path.join(__dirname, '..', '..', 'infra', 'host-scripts', `${script}.sh`), 'utf8');
      const run = (d.Properties.Content.mainSteps[0].inputs.runCommand as string[]).join('\n');
      expect(run).toContain(text.split('\n').at(-2)!);
      expect(d.Properties.UpdateMethod).toBe('NewVersion');
    }
  });

  it('never takes a password as a document parameter (SSM keeps parameters in its history): the secret id instead', () => {
    for (const [, d] of resourcesOf('AWS::SSM::Document')) {
      const params = Object.keys(d.Properties.Content.parameters);
      expect(params.filter((p) => /PASSW/i.test(p))).toEqual([]);
      expect(params).toContain('SECRET_ID');
    }
  });

  it("exports a host policy that reads the hosts' secret and nothing else (never the controller's)", () => {
    const [[id, policy]] = resourcesOf('AWS::IAM::ManagedPolicy') as [[string, Json]];
    const hostSecretId = resourcesOf('AWS::SecretsManager::Secret').find(([k]) => k.startsWith('HostSecret'))![0];
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
        Resource: { Ref: hostSecretId },
      },
    ]);
    expect(t.Outputs.HostPolicyArn.Value).toEqual({ Ref: id });
    expect(t.Outputs.HostSecretArn.Value).toEqual({ Ref: hostSecretId });
    // No function may read the hosts' secret: the controller names it (SECRET_ID) and never needs its passwords.
    for (const [, p] of resourcesOf('AWS::IAM::Policy')) {
      for (const s of p.Properties.PolicyDocument.Statement as Json[]) {
        expect(JSON.stringify(s.Resource ?? '')).not.toContain(hostSecretId);
      }
    }
  });

  it('gives every function the configured node addresses and ingress allow-list the table is checked against', () => {
    for (const f of [...Object.values(stack.functions), ...stack.probes]) {
      const env = t.Resources[logicalIdOf(f)].Properties.Environment.Variables;
      expect(JSON.parse(env.PGQ_NODES)).toEqual(
        stack.config.nodes.map((n) => ({
          name: n.name,
          host: n.privateIp,
          port: n.port,
          securityGroupId: n.securityGroupId,
        })),
      );
      expect(JSON.parse(env.PGQ_ALLOWED_INGRESS)).toEqual({ cidrs: [stack.config.vpcCidr], securityGroupIds: [] });
    }
  });

  it('writes the passfile on every node at deployment (State Manager), before any re-point names it', () => {
    const [[, assoc]] = resourcesOf('AWS::SSM::Association') as [[string, Json]];
    const hostSecretId = resourcesOf('AWS::SecretsManager::Secret').find(([k]) => k.startsWith('HostSecret'))![0];
    expect(assoc.Properties).toMatchObject({
      Name: `pgquorum-${stack.config.cluster}-write-passfile`,
      Targets: [{ Key: 'InstanceIds', Values: stack.config.nodes.map((n) => n.instanceId) }],
      Parameters: {
        REPL_USER: [stack.config.replicationUser],
        REWIND_USER: [stack.config.rewindUser],
        SECRET_ID: [{ Ref: hostSecretId }],
      },
    });
    expect(assoc.DependsOn).toEqual([expect.stringMatching(/^DocWritePassfile/)]);
  });

  it('declares every output the CLI discovers the cluster from, each pointing at its resource', () => {
    for (const k of STACK_OUTPUTS) expect({ k, declared: k in t.Outputs }).toEqual({ k, declared: true });
    const [[topicId]] = resourcesOf('AWS::SNS::Topic') as [[string, Json]];
    const [[secretId]] = resourcesOf('AWS::SecretsManager::Secret') as [[string, Json]];
    const records = recordNames(stack.config);
    const expected: Record<string, unknown> = {
      ClusterName: stack.config.cluster,
      Region: stack.config.region,
      TableName: { Ref: logicalIdOf(stack.table) },
      StateMachineArn: { Ref: logicalIdOf(stack.stateMachine.stateMachine) },
      TopicArn: { Ref: topicId },
      DbSecretArn: { Ref: secretId },
      HostedZoneId: stack.config.hostedZoneId,
      WriterRecord: records.writer,
      ReaderRecord: records.reader,
      ValidateInputFunction: { Ref: logicalIdOf(stack.functions['validate-input']) },
      RejoinFunction: { Ref: logicalIdOf(stack.functions['rejoin-old-primary']) },
      SettleRejoinFunction: { Ref: logicalIdOf(stack.functions['settle-rejoin']) },
    };
    for (const [k, value] of Object.entries(expected)) {
      // Compared one by one so a failure names the output.
      expect({ k, value: t.Outputs[k]?.Value }).toEqual({ k, value });
      expect({ k, described: Boolean(t.Outputs[k].Description) }).toEqual({ k, described: true });
      // No exports: another stack importing them would pin this one (no rename, no replace of the table).
      expect({ k, exported: 'Export' in t.Outputs[k] }).toEqual({ k, exported: false });
    }
    expect(JSON.parse(t.Outputs.Settings.Value)).toEqual(JSON.parse(JSON.stringify(stack.config.thresholds)));
  });

  it('never retries a probe invocation asynchronously (the schedule starts the next one; two loops would vote for one AZ)', () => {
    const configs = resourcesOf('AWS::Lambda::EventInvokeConfig');
    for (const p of stack.probes) {
      const c = configs.find(([, r]) => r.Properties.FunctionName.Ref === logicalIdOf(p));
      expect(c?.[1].Properties).toMatchObject({ MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 });
    }
  });

  it('alarms only on metrics the EMF sink emits, with exactly the dimension names it emits them with', async () => {
    // A metric alarmed on with other dimensions than the emitted ones never has data: the alarm would be dead.
    const emitted = new Set(
      (await emfOf(recordEverything)).flatMap((d) =>
        d._aws.CloudWatchMetrics.flatMap((c) =>
          c.Dimensions.flatMap((set) => c.Metrics.map((m) => `${c.Namespace}/${m.Name}{${[...set].sort()}}`)),
        ),
      ),
    );
    const queried: string[] = [];
    const walk = (x: Json): void => {
      if (Array.isArray(x)) x.forEach(walk);
      else if (x && typeof x === 'object') {
        if (x.Namespace === 'PgQuorum' && x.MetricName) {
          const dims = ((x.Dimensions ?? []) as Json[]).map((d) => d.Name).sort();
          queried.push(`PgQuorum/${x.MetricName}{${dims}}`);
        }
        Object.values(x).forEach(walk);
      }
    };
    for (const [, a] of resourcesOf('AWS::CloudWatch::Alarm')) walk(a.Properties);
    expect(queried.length).toBeGreaterThanOrEqual(5);
    for (const q of queried) expect({ q, emitted: emitted.has(q) }).toEqual({ q, emitted: true });
  });

  it("creates the controller's and the hosts' secrets when none is configured", () => {
    expect(resourcesOf('AWS::SecretsManager::Secret').map(([k]) => k.replace(/[0-9A-F]{8}$/, ''))).toEqual([
      'DbSecret',
      'HostSecret',
    ]);
  });

  it('has a dashboard with the probe, lag, epoch-free duration and bytes-at-risk widgets', () => {
    const [[, dash]] = resourcesOf('AWS::CloudWatch::Dashboard') as [[string, Json]];
    const body = JSON.stringify(dash.Properties.DashboardBody);
    for (const m of ['PrimaryReachable', 'ReplicaLagBytes', 'FailoverDuration', 'BytesAtRisk'])
      expect(body).toContain(m);
  });
});

/** Every state, including the ones inside Map item processors, as [id, state]. */
function allStates(def: Json): [string, Json][] {
  return Object.entries(def.States as Record<string, Json>).flatMap(([id, s]) => [
    [id, s] as [string, Json],
    ...(s.Type === 'Map' ? allStates(s.ItemProcessor ?? s.Iterator) : []),
  ]);
}

import fs from 'node:fs';
import path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildApp } from '../../infra/app';

/** Synthesized once for the file: bundling 18 functions with esbuild takes ~25 s on 2 cores. */
const root = path.join(__dirname, '..', '..');
const context = JSON.parse(fs.readFileSync(path.join(root, 'cdk.json'), 'utf8')).context;
const outdir = fs.mkdtempSync('/tmp/pgq-cdk-');
let template: Template;
let json: { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
let synthError: unknown;

beforeAll(() => {
  const app = new App({ outdir, context });
  const { stack } = buildApp(app);
  try {
    app.synth();
  } catch (err) {
    synthError = err;
  }
  template = Template.fromStack(stack);
  json = template.toJSON() as typeof json;
}, 180000);

afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

const ofType = (t: string) => Object.entries(json.Resources).filter(([, r]) => r.Type === t);
const cfg = context.pgquorum;

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged finding for the stack', () => {
    expect(synthError).toBeUndefined();
  });

  it('does fail a stack with a known violation (the check is live)', () => {
    const app = new App({ outdir: fs.mkdtempSync('/tmp/pgq-nag-') });
    const bad = new Stack(app, 'Bad');
    new sns.Topic(bad, 'PlainTopic');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow();
  });
});

describe('probes', () => {
  it('runs three probe functions, each pinned to a distinct configured subnet, each on an every-minute schedule', () => {
    const probes = ofType('AWS::Lambda::Function').filter(([id]) => /^Probe\d[0-9A-F]{8}$/.test(id));
    expect(probes).toHaveLength(3);
    const subnets = probes.map(([, r]) =>
      ((r.Properties.VpcConfig as { SubnetIds: string[] }).SubnetIds ?? []).join(','),
    );
    expect(new Set(subnets).size).toBe(3);
    expect(subnets.sort()).toEqual(cfg.probeSubnets.map((s: { subnetId: string }) => s.subnetId).sort());
    for (const [id] of probes) {
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(1 minute)',
        Targets: Match.arrayWith([Match.objectLike({ Arn: { 'Fn::GetAtt': [id, 'Arn'] } })]),
      });
    }
  });
});

describe('backstop trigger', () => {
  it('wires the quorum-down alarm through an EventBridge rule to the state machine', () => {
    const [alarmId] = ofType('AWS::CloudWatch::Alarm').find(([id]) => id.startsWith('QuorumDownAlarm'))!;
    const [smId] = ofType('AWS::StepFunctions::StateMachine')[0]!;
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        resources: [{ 'Fn::GetAtt': [alarmId, 'Arn'] }],
        detail: { state: { value: ['ALARM'] } },
      },
      Targets: Match.arrayWith([Match.objectLike({ Arn: { Ref: smId } })]),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 2,
      Metrics: Match.arrayWith([Match.objectLike({ Expression: Match.stringLikeRegexp('FILL') })]),
    });
  });
});

describe('state machine', () => {
  const definition = () => {
    const [, sm] = ofType('AWS::StepFunctions::StateMachine')[0]!;
    const parts = (sm.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
    // Function ARNs are Fn::GetAtt tokens inside JSON strings: substitute plain text.
    const text = parts.map((p) => (typeof p === 'string' ? p : 'arn:fn')).join('');
    return JSON.parse(text) as { States: Record<string, Record<string, unknown>> };
  };
  const allStates = () => {
    const out: Record<string, Record<string, unknown>> = {};
    const walk = (states: Record<string, Record<string, unknown>>) => {
      for (const [k, v] of Object.entries(states)) {
        out[k] = v;
        const inner = (v.ItemProcessor ?? v.Iterator) as
          | { States?: Record<string, Record<string, unknown>> }
          | undefined;
        if (inner?.States) walk(inner.States);
      }
    };
    walk(definition().States);
    return out;
  };

  it('retries every task on Pgq.Retriable with backoff', () => {
    const tasks = Object.entries(allStates()).filter(([, s]) => s.Type === 'Task');
    expect(tasks.length).toBeGreaterThanOrEqual(20);
    for (const [name, s] of tasks) {
      const retry = (s.Retry ?? []) as { ErrorEquals: string[]; BackoffRate?: number }[];
      expect([name, retry.some((r) => r.ErrorEquals.includes('Pgq.Retriable') && (r.BackoffRate ?? 1) > 1)]).toEqual([
        name,
        true,
      ]);
    }
  });

  it('sends every failure after the lease to Abort, and earlier failures to a Fail that changes nothing', () => {
    const states = allStates();
    const catchTo = (n: string) => ((states[n]!.Catch ?? []) as { Next: string }[]).map((c) => c.Next);
    expect(catchTo('ValidateInput')).toEqual(['InputRejected']);
    expect(catchTo('AcquireLease')).toEqual(['LeaseNotAcquired']);
    expect(catchTo('Abort')).toEqual(['AbortFailed']);
    expect(catchTo('RejoinOldPrimary')).toEqual(['Done']);
    expect(catchTo('RestartOldAsReplica')).toEqual(['Done']);
    for (const n of [
      'ConfirmQuorum',
      'SelectCandidate',
      'Fence',
      'VerifyFence',
      'Promote',
      'FlipDns',
      'RepointReplicas',
      'Commit',
      'CheckTarget',
      'StopOldPrimary',
      'WaitForReplay',
      'PromoteTarget',
      'FlipDnsToTarget',
      'RepointOthers',
      'CommitSwitchover',
    ]) {
      expect([n, catchTo(n)]).toEqual([n, ['Abort']]);
    }
    expect(states.Abort!.Next).toBe('Failed');
  });
});

describe('IAM least privilege', () => {
  const statements = () =>
    ofType('AWS::IAM::Policy').flatMap(
      ([, p]) =>
        (p.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement,
    );
  const actions = (s: { Action: string | string[] }) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

  it('uses Resource "*" only for actions AWS cannot scope', () => {
    const allowed = /^(ec2:DescribeSecurityGroups|ssm:GetCommandInvocation|cloudwatch:PutMetricData|xray:.*|logs:.*)$/;
    for (const s of statements().filter((x) => x.Resource === '*')) {
      for (const a of actions(s)) expect([a, allowed.test(a)]).toEqual([a, true]);
    }
  });

  it('scopes security-group changes to the node security groups and record changes to the hosted zone', () => {
    const sgs = cfg.nodes.map((n: { securityGroupId: string }) => n.securityGroupId);
    for (const s of statements().filter((x) => actions(x).includes('ec2:RevokeSecurityGroupIngress'))) {
      const res = JSON.stringify(s.Resource);
      for (const sg of sgs) expect(res).toContain(sg);
      expect(res).not.toContain('"*"');
    }
    for (const s of statements().filter((x) => actions(x).includes('route53:ChangeResourceRecordSets'))) {
      expect(JSON.stringify(s.Resource)).toContain(`hostedzone/${cfg.hostedZoneId}`);
    }
  });
});

describe('table', () => {
  it('keeps votes, lease and history safely', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      }),
    });
  });
});

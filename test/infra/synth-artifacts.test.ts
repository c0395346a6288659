// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the placeholders under test are literally ${...}.
import fs from 'node:fs';
import path from 'node:path';
import { TASKS } from '../../infra/constructs/tasks';
import { fillPlaceholders, resolveCfnString, type SynthArtifacts, synthArtifacts } from '../../infra/synth-artifacts';
import { type Json, sampleConfig } from './fixtures';

// One real synth with bundling (local esbuild, 18 functions) for the whole file.
let a: SynthArtifacts;
beforeAll(() => {
  a = synthArtifacts(sampleConfig());
}, 240000);
afterAll(() => {
  if (a) fs.rmSync(a.outdir, { recursive: true, force: true });
});

const taskNames = Object.keys(TASKS);

describe('synthArtifacts', () => {
  it('returns the definition with a ${fn:<task>} placeholder for every task and no CloudFormation left', () => {
    for (const name of taskNames) expect(a.stateMachineDefinition).toContain(`\${fn:${name}}`);
    const placeholders = new Set(a.stateMachineDefinition.match(/\$\{[^}]+\}/g));
    expect([...placeholders].sort()).toEqual(taskNames.map((n) => `\${fn:${n}}`).sort());
    const def = JSON.parse(a.stateMachineDefinition) as Json;
    const resources = (states: Json): string[] =>
      Object.values(states as Record<string, Json>).flatMap((s) => [
        ...(s.Type === 'Task' ? [s.Resource as string] : []),
        ...(s.Type === 'Map' ? resources(s.ItemProcessor.States) : []),
      ]);
    for (const r of resources(def.States)) expect(r).toMatch(/^\$\{fn:[a-z-]+\}$/);
    expect(def.StartAt).toBe('ValidateInput');
  });

  it('lists every task function, then the three probes, each with a bundle holding index.js', () => {
    expect(a.functions.map((f) => f.name)).toEqual([
      ...taskNames,
      ...sampleConfig().probeSubnets.map((s: Json) => `probe-${s.az}`),
    ]);
    for (const f of a.functions) {
      expect(fs.existsSync(path.join(f.assetDir, 'index.js'))).toBe(true);
      expect(f.handler).toBe('index.handler');
      expect(f.runtime).toBe('nodejs22.x');
      expect(a.template.Resources).toHaveProperty(f.logicalId);
    }
    for (const f of a.functions.filter((x) => x.kind === 'task'))
      expect(f.timeout).toBe(TASKS[f.name as keyof typeof TASKS].timeoutSec);
  });

  it('bundles pg (never required at run time) and leaves only pg-native out', () => {
    const promote = a.functions.find((f) => f.name === 'promote')!;
    const code = fs.readFileSync(path.join(promote.assetDir, 'index.js'), 'utf8');
    expect(code).not.toMatch(/require\(["']pg["']\)/);
    // The SCRAM client of pg's SASL support: present only if pg itself was bundled.
    expect(code).toContain('SCRAM-SHA-256');
  });

  it('resolves the environment to plain strings, references to named placeholders', () => {
    const probe = a.functions.find((f) => f.kind === 'probe')!;
    expect(probe.environment.PGQ_CLUSTER).toBe('orders');
    expect(probe.environment.PGQ_AZ).toBe(probe.az);
    expect(probe.environment.PGQ_TABLE).toBe('${table}');
    expect(probe.environment.PGQ_STATE_MACHINE_ARN).toBe('${stateMachine}');
    expect(probe.unresolvedEnvironment.sort()).toEqual(
      ['PGQ_DB_SECRET_ARN', 'PGQ_HOST_SECRET_ARN', 'PGQ_STATE_MACHINE_ARN', 'PGQ_TABLE', 'PGQ_TOPIC_ARN'].sort(),
    );
  });
});

describe('placeholders', () => {
  const resources = {
    Fn1: { Type: 'AWS::Lambda::Function' },
    T: { Type: 'AWS::DynamoDB::Table' },
    Other: { Type: 'AWS::SQS::Queue' },
  };
  const fnNames = { Fn1: 'promote' };
  const pseudo = { 'AWS::Partition': 'aws', 'AWS::Region': 'eu-west-1' };
  const r = (v: unknown) => resolveCfnString(v, resources, fnNames, pseudo);

  it.each<[string, unknown, string]>([
    ['a plain string', 'x', 'x'],
    ['a function ARN', { 'Fn::GetAtt': ['Fn1', 'Arn'] }, '${fn:promote}'],
    ['a table name', { Ref: 'T' }, '${table}'],
    ['another reference', { Ref: 'Other' }, '${ref:Other}'],
    ['another attribute', { 'Fn::GetAtt': ['Other', 'QueueUrl'] }, '${att:Other.QueueUrl}'],
    ['an unknown pseudo parameter', { Ref: 'AWS::AccountId' }, '${AWS::AccountId}'],
    [
      'a join with pseudo parameters',
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':states:', { Ref: 'AWS::Region' }]] },
      'arn:aws:states:eu-west-1',
    ],
    ['a select over a split', { 'Fn::Select': [1, { 'Fn::Split': ['/', 'a/b/c'] }] }, 'b'],
  ])('resolves %s', (_name, value, expected) => {
    expect(r(value)).toBe(expected);
  });

  it('refuses an intrinsic it does not know', () => {
    expect(() => r({ 'Fn::ImportValue': 'x' })).toThrow(/cannot resolve/);
  });

  it('fills placeholders and refuses to leave one unfilled', () => {
    expect(fillPlaceholders('{"R":"${fn:promote}"}', { 'fn:promote': 'arn:x' })).toBe('{"R":"arn:x"}');
    expect(() => fillPlaceholders('${table}/${topic}', { table: 't' })).toThrow('no value for placeholder ${topic}');
  });
});

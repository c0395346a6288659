import fs from 'node:fs';
import path from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import { buildExampleApp, type OrdersDatabaseStack } from '../../examples/own-vpc/app';
import { type Json, useSynthesizedApp } from '../infra/fixtures';

let stack: OrdersDatabaseStack;
let t: Json;
let outdir: string;
let synthError: unknown;

useSynthesizedApp({ build: (app) => buildExampleApp(app).stack }, (x) => {
  ({ stack, t, outdir, synthError } = x);
});

const idOf = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as never);
const resourcesOf = (type: string): [string, Json][] =>
  Object.entries(t.Resources as Record<string, Json>).filter(([, r]) => r.Type === type);

describe('examples/own-vpc: a PgQuorumCluster in a stack of the reader', () => {
  it('passes cdk-nag AwsSolutions with an empty report', () => {
    expect(synthError).toBeUndefined();
    const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
    expect((report.pluginReports as Json[]).flatMap((p) => p.violations ?? [])).toEqual([]);
  });

  it("contains the cluster's table, state machine and three probes", () => {
    const tables = resourcesOf('AWS::DynamoDB::Table');
    expect(tables.map(([id]) => id)).toEqual([idOf(stack.cluster.table)]);
    expect(tables[0]![1].Properties.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(resourcesOf('AWS::StepFunctions::StateMachine').map(([id]) => id)).toEqual([
      idOf(stack.cluster.stateMachine),
    ]);
    expect(stack.cluster.probes).toHaveLength(3);
    for (const p of stack.cluster.probes) expect(t.Resources[idOf(p)].Type).toBe('AWS::Lambda::Function');
  });

  it("runs in the reader's VPC: no VPC of its own, probes and endpoints in the reader's subnets", () => {
    expect(resourcesOf('AWS::EC2::VPC').map(([id]) => id)).toEqual([idOf(stack.vpc)]);
    const subnetRefs = stack.vpc.isolatedSubnets.map((s) => ({ Ref: idOf(s as ec2.Subnet) }));
    const probeSubnets = stack.cluster.probes.map((p) => t.Resources[idOf(p)].Properties.VpcConfig.SubnetIds);
    expect(probeSubnets).toEqual(subnetRefs.map((r) => [r]));
    const endpoints = resourcesOf('AWS::EC2::VPCEndpoint');
    expect(endpoints.length).toBeGreaterThan(0);
    for (const [, e] of endpoints) expect(e.Properties.VpcId).toEqual({ Ref: idOf(stack.vpc) });
  });

  it("seeds the registry with the reader's instances and security groups, and uses the reader's zone", () => {
    const seeds = JSON.stringify(resourcesOf('Custom::AWS'));
    for (const i of stack.instances) expect(seeds).toContain(idOf(i));
    for (const sg of stack.nodeSecurityGroups) expect(seeds).toContain(idOf(sg));
    const zoneId = idOf(stack.zone);
    const probe = t.Resources[idOf(stack.cluster.probes[0]!)];
    expect(probe.Properties.Environment.Variables.PGQ_ZONE_ID).toEqual({ Ref: zoneId });
    expect(probe.Properties.Environment.Variables.PGQ_WRITER_RECORD).toBe('writer.orders.db.internal');
  });

  it("lets the instances' role read the secret through the cluster's host policy", () => {
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Role', {
      ManagedPolicyArns: Match.arrayWith([{ Ref: idOf(stack.cluster.hostPolicy) }]),
    });
  });
});

import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/app';
import { EmfMetrics } from '../../lambdas/adapters/aws/cloudwatch-metrics';
import {
  clusterPartitionKey,
  LEASE_SORT_KEY,
  METRIC_NAMESPACE,
  METRICS,
  NODE_SORT_KEY_PREFIX,
  STEP_ERRORS,
  ssmDocumentName,
  ssmDocumentPrefix,
  TABLE_KEYS,
} from '../../lambdas/core/contract';
import { HOST_SCRIPTS } from '../../lambdas/ports/host-command-port';
import { type Json, sampleConfig } from './fixtures';

// The synthesized stack against lambdas/core/contract.ts: each name a reader of the template relies on is one the
// contract declares, so a literal that drifted from it (in infra, or a new alarm) fails here.
const cfg = sampleConfig();
const t: Json = Template.fromStack(
  buildApp(new App({ context: { pgquorum: cfg, 'aws:cdk:bundling-stacks': [] } })).stack,
).toJSON();
const resources = Object.values(t.Resources as Record<string, Json>);
const ofType = (type: string) => resources.filter((r) => r.Type === type);
/** Every {Namespace, MetricName} an alarm reads, math-expression alarms included. */
const alarmMetrics = ofType('AWS::CloudWatch::Alarm').flatMap((a) =>
  a.Properties.MetricName
    ? [{ ns: a.Properties.Namespace, name: a.Properties.MetricName }]
    : (a.Properties.Metrics as Json[])
        .filter((m) => m.MetricStat)
        .map((m) => ({ ns: m.MetricStat.Metric.Namespace, name: m.MetricStat.Metric.MetricName })),
);

describe('the stack keeps to the contract', () => {
  it("reads only the contract's metrics, in its namespace (Step Functions' own metrics aside)", () => {
    const ours = alarmMetrics.filter((m) => m.ns !== 'AWS/States');
    expect(ours.length).toBeGreaterThan(0);
    for (const m of ours) {
      expect(m.ns).toBe(METRIC_NAMESPACE);
      expect(Object.values(METRICS)).toContain(m.name);
    }
  });

  it('and every metric an alarm reads is one the metrics adapter emits', async () => {
    const lines: string[] = [];
    const m = new EmfMetrics('orders', (l) => lines.push(l));
    m.primaryReachable('eu-west-1a', true);
    m.replicaLag('pg2', 1);
    m.syncStandbyMissing(true);
    m.syncStandbyMissingSeconds(1);
    m.unnamedPrimaries('eu-west-1a', 0);
    m.failoverDuration('failover', 1);
    m.bytesAtRisk(0);
    m.needsAttention();
    await m.flush();
    const emitted = lines.flatMap((l) =>
      (JSON.parse(l)._aws.CloudWatchMetrics as Json[]).flatMap((d) => d.Metrics.map((x: Json) => x.Name)),
    );
    expect([...new Set(emitted)].sort()).toEqual(Object.values(METRICS).sort());
    for (const a of alarmMetrics.filter((x) => x.ns === METRIC_NAMESPACE)) expect(emitted).toContain(a.name);
  });

  it("retries and catches only the contract's error names (besides Lambda's and States')", () => {
    const [sm] = ofType('AWS::StepFunctions::StateMachine');
    const asl = JSON.stringify(sm.Properties.DefinitionString);
    const names = [...asl.matchAll(/Pgq\.[A-Za-z]+/g)].map((x) => x[0]);
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) expect(Object.values(STEP_ERRORS)).toContain(n);
    expect(names).toContain(STEP_ERRORS.retriable);
    expect(names).toContain(STEP_ERRORS.candidateFailed);
  });

  it('keys the table, and seeds the lease and registry, with the contract key schema', () => {
    const [table] = ofType('AWS::DynamoDB::Table');
    expect(table.Properties.KeySchema).toEqual([
      { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
    ]);
    expect(table.Properties.TimeToLiveSpecification.AttributeName).toBe(TABLE_KEYS.timeToLive);
    const items = ofType('Custom::AWS').map((r) => {
      const create = JSON.parse(
        r.Properties.Create['Fn::Join'][1].map((p: Json) => (typeof p === 'string' ? p : 'x')).join(''),
      );
      return create.parameters.Item;
    });
    const sks = items.map((i: Json) => i[TABLE_KEYS.sortKey].S);
    for (const i of items) expect(i[TABLE_KEYS.partitionKey].S).toBe(clusterPartitionKey(cfg.cluster));
    expect(sks.sort()).toEqual(
      [LEASE_SORT_KEY, ...cfg.nodes.map((n: Json) => `${NODE_SORT_KEY_PREFIX}${n.name}`)].sort(),
    );
  });

  it('names the documents as the host-command adapter addresses them', () => {
    const docs = ofType('AWS::SSM::Document').map((d) => d.Properties.Name);
    const prefix = ssmDocumentPrefix(cfg.cluster);
    expect(docs.sort()).toEqual(HOST_SCRIPTS.map((s) => ssmDocumentName(prefix, s)).sort());
    const fns = ofType('AWS::Lambda::Function').filter((f) => f.Properties.Environment?.Variables?.PGQ_CLUSTER);
    for (const f of fns) expect(f.Properties.Environment.Variables.PGQ_SSM_DOCUMENT_PREFIX).toBe(prefix);
  });
});

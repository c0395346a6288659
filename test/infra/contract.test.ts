import { marshall } from '@aws-sdk/util-dynamodb';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/app';
import { parseDeployConfig } from '../../infra/config';
import { TASKS } from '../../infra/constructs/tasks';
import { EmfMetrics } from '../../lambdas/adapters/aws/cloudwatch-metrics';
import {
  clusterPartitionKey,
  IN_FLIGHT_TASK_DRAIN_MS,
  LEASE_SORT_KEY,
  METRIC_NAMESPACE,
  METRICS,
  NODE_SORT_KEY_PREFIX,
  RECORD_LABELS,
  recordName,
  STEP_ERRORS,
  ssmDocumentName,
  ssmDocumentPrefix,
  TABLE_KEYS,
} from '../../lambdas/core/contract';
import { registrySeed } from '../../lambdas/core/registry-seed';
import { HOST_SCRIPTS } from '../../lambdas/ports/host-command-port';
import { type Json, sampleConfig, testApp } from './fixtures';

// The synthesized stack against lambdas/core/contract.ts: each name a reader of the template relies on is one the
// contract declares, so a literal that drifted from it (in infra, or a new alarm) fails here.
const cfg = sampleConfig();
const t: Json = Template.fromStack(buildApp(testApp({ pgquorum: cfg })).stack).toJSON();
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

  it('seeds exactly the items registrySeed builds (the lab seeds its registry with the same function)', () => {
    const items = ofType('Custom::AWS').map(
      (r) =>
        JSON.parse(r.Properties.Create['Fn::Join'][1].map((p: Json) => (typeof p === 'string' ? p : 'x')).join(''))
          .parameters.Item,
    );
    const parsed = parseDeployConfig(cfg);
    const seed = registrySeed({
      initialPrimary: parsed.initialPrimary,
      // The fields the stack passes (a deploy config's node also holds TLS names and the like).
      nodes: parsed.nodes.map(({ name, instanceId, az, privateIp, port, securityGroupId, noFailover }) => ({
        name,
        instanceId,
        az,
        privateIp,
        port,
        securityGroupId,
        noFailover,
      })),
      now: 0,
      reason: 'initial deployment',
    });
    const pk = { [TABLE_KEYS.partitionKey]: clusterPartitionKey(cfg.cluster) };
    const expected = [
      { ...pk, [TABLE_KEYS.sortKey]: LEASE_SORT_KEY, ...seed.lease },
      ...seed.nodes.map((n) => ({ ...pk, [TABLE_KEYS.sortKey]: `${NODE_SORT_KEY_PREFIX}${n.name}`, ...n })),
    ].map((i) => marshall(i, { removeUndefinedValues: true }));
    expect(items).toEqual(expected);
    expect(items[0]).toMatchObject({ epoch: { N: '1' }, state: { S: 'steady' }, holder: { NULL: true } });
  });

  it('names the writer and reader records as recordName does with the default labels', () => {
    const fns = ofType('AWS::Lambda::Function').filter((f) => f.Properties.Environment?.Variables?.PGQ_CLUSTER);
    expect(fns.length).toBeGreaterThan(10);
    for (const f of fns) {
      expect(f.Properties.Environment.Variables.PGQ_WRITER_RECORD).toBe(recordName(RECORD_LABELS.writer, cfg.zoneName));
      expect(f.Properties.Environment.Variables.PGQ_READER_RECORD).toBe(recordName(RECORD_LABELS.reader, cfg.zoneName));
    }
  });

  it('names the documents as the host-command adapter addresses them', () => {
    const docs = ofType('AWS::SSM::Document').map((d) => d.Properties.Name);
    const prefix = ssmDocumentPrefix(cfg.cluster);
    expect(docs.sort()).toEqual(HOST_SCRIPTS.map((s) => ssmDocumentName(prefix, s)).sort());
    const fns = ofType('AWS::Lambda::Function').filter((f) => f.Properties.Environment?.Variables?.PGQ_CLUSTER);
    for (const f of fns) expect(f.Properties.Environment.Variables.PGQ_SSM_DOCUMENT_PREFIX).toBe(prefix);
  });
});

describe('IN_FLIGHT_TASK_DRAIN_MS', () => {
  // Tasks that run after the commit, while the lease is steady again: a lease break never waits for them.
  const AFTER_COMMIT = ['check-dns-insync', 'rejoin-old-primary', 'settle-rejoin', 'restart-old-as-replica'];
  it('covers the timeout of every task that runs while the lease is in flight', () => {
    const inFlight = Object.entries(TASKS).filter(([n]) => !AFTER_COMMIT.includes(n));
    expect(inFlight.length).toBeGreaterThan(10);
    for (const [name, spec] of inFlight) {
      expect({ name, covered: spec.timeoutSec * 1000 <= IN_FLIGHT_TASK_DRAIN_MS }).toEqual({ name, covered: true });
    }
    // Not longer than it must be: an operator waits it out.
    expect(Math.max(...inFlight.map(([, s]) => s.timeoutSec)) * 1000).toBe(IN_FLIGHT_TASK_DRAIN_MS);
  });
});

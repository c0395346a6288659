import { EmfMetrics, METRIC_NAMESPACE } from '../../../lambdas/adapters/aws/cloudwatch-metrics';
import { emfOf, recordEverything } from './emf-fixtures';

describe('EMF metrics', () => {
  it('writes nothing until flushed, then documents valid under the EMF specification', async () => {
    const docs = await emfOf(recordEverything);
    for (const d of docs) {
      expect(d._aws.Timestamp).toBe(1_700_000_000_000);
      for (const directive of d._aws.CloudWatchMetrics) {
        expect(directive.Namespace).toBe(METRIC_NAMESPACE);
        // Every dimension a directive names, and every metric, is a top-level key of the same document.
        for (const set of directive.Dimensions) for (const k of set) expect(typeof d[k]).toBe('string');
        for (const metric of directive.Metrics) expect(typeof d[metric.Name]).toBe('number');
      }
    }
  });

  it('packs a probe round into two lines: values whose dimensions clash (two replicas) need their own', async () => {
    const docs = await emfOf(async (m) => {
      await m.primaryReachable('us-east-1a', false);
      await m.syncStandbyMissing(false);
      await m.replicaLag('pg2', 1024);
      await m.replicaLag('pg3', 2048);
    });
    expect(docs).toHaveLength(2);
    expect(docs[0]).toMatchObject({ Cluster: 'orders', Az: 'us-east-1a', Node: 'pg2', PrimaryReachable: 0 });
    expect(docs[0]!.ReplicaLagBytes).toBe(1024);
    expect(docs[1]).toMatchObject({ Cluster: 'orders', Node: 'pg3', ReplicaLagBytes: 2048 });
    // Each metric keeps exactly its own dimension set, however the line is shared.
    expect(docs[0]!._aws.CloudWatchMetrics.map((c) => [c.Dimensions, c.Metrics.map((x) => x.Name)])).toEqual([
      [[['Cluster', 'Az']], ['PrimaryReachable']],
      [[['Cluster']], ['SyncStandbyMissing']],
      // Per node, and rolled up cluster-wide for the lag alarm.
      [[['Cluster', 'Node'], ['Cluster']], ['ReplicaLagBytes']],
    ]);
  });

  it('a flush with nothing recorded writes nothing, and a second flush does not repeat the first', async () => {
    const lines: string[] = [];
    const m = new EmfMetrics('orders', (l) => lines.push(l));
    await m.flush();
    await m.needsAttention();
    await m.flush();
    await m.flush();
    expect(lines).toHaveLength(1);
  });
});

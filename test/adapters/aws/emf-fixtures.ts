import { EmfMetrics } from '../../../lambdas/adapters/aws/cloudwatch-metrics';
import type { MetricsPort } from '../../../lambdas/ports/metrics-port';

/** Every metric the controller records, as one probe round and one committed run would. */
export async function recordEverything(m: MetricsPort): Promise<void> {
  await m.primaryReachable('us-east-1a', true);
  await m.syncStandbyMissing(false);
  await m.syncStandbyMissingSeconds(0);
  await m.unnamedPrimaries('us-east-1a', 0);
  await m.replicaLag('pg2', 1024);
  await m.replicaLag('pg3', 2048);
  await m.failoverDuration('failover', 4200);
  await m.bytesAtRisk(0);
  await m.needsAttention();
}

/** One EMF document. */
export type Doc = Record<string, unknown> & {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[];
  };
};

/** Runs `fn` against an EMF adapter and returns the documents it wrote (one JSON object per line). */
export async function emfOf(fn: (m: MetricsPort) => Promise<void>, at = 1_700_000_000_000): Promise<Doc[]> {
  const lines: string[] = [];
  const m = new EmfMetrics(
    'orders',
    (l) => lines.push(l),
    () => at,
  );
  await fn(m);
  expect(lines).toEqual([]);
  await m.flush();
  return lines.map((l) => {
    expect(l.endsWith('\n')).toBe(true);
    expect(l.slice(0, -1)).not.toContain('\n');
    return JSON.parse(l) as Doc;
  });
}

import { type CloudWatchClient, type MetricDatum, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { MetricsPort } from '../../ports/metrics-port';

/** The namespace alarms and the dashboard read. */
export const METRIC_NAMESPACE = 'PgQuorum';

/**
 * PutMetricData with the Cluster dimension on everything. Metric failures are
 * swallowed and counted: a metrics outage must never stop a probe or a failover
 * (the probes-silent alarm catches a controller that stops publishing).
 */
export class CloudWatchMetrics implements MetricsPort {
  failures = 0;

  constructor(
    private readonly cw: CloudWatchClient,
    private readonly cluster: string,
  ) {}

  private async put(
    name: string,
    value: number,
    unit: MetricDatum['Unit'],
    dims: Record<string, string> = {},
  ): Promise<void> {
    try {
      await this.cw.send(
        new PutMetricDataCommand({
          Namespace: METRIC_NAMESPACE,
          MetricData: [
            {
              MetricName: name,
              Value: value,
              Unit: unit,
              StorageResolution: 1,
              Dimensions: Object.entries({ Cluster: this.cluster, ...dims }).map(([Name, Value]) => ({ Name, Value })),
            },
          ],
        }),
      );
    } catch {
      this.failures++;
    }
  }

  primaryReachable(az: string, reachable: boolean) {
    return this.put('PrimaryReachable', reachable ? 1 : 0, 'Count', { Az: az });
  }
  replicaLag(node: string, bytes: number) {
    return this.put('ReplicaLagBytes', bytes, 'Bytes', { Node: node });
  }
  syncStandbyMissing(missing: boolean) {
    return this.put('SyncStandbyMissing', missing ? 1 : 0, 'Count');
  }
  failoverDuration(kind: 'failover' | 'switchover', ms: number) {
    return this.put('FailoverDuration', ms, 'Milliseconds', { Kind: kind });
  }
  bytesAtRisk(bytes: number) {
    return this.put('BytesAtRisk', bytes, 'Bytes');
  }
  needsAttention() {
    return this.put('NeedsAttention', 1, 'Count');
  }
}

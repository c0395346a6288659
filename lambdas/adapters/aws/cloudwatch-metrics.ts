import {
  type CloudWatchClient,
  type MetricDatum,
  PutMetricDataCommand,
  type StandardUnit,
} from '@aws-sdk/client-cloudwatch';
import { METRIC_NAMESPACE, METRICS } from '../../core/contract';
import type { MetricsPort } from '../../ports/metrics-port';

/** The namespace alarms and the dashboard read (lambdas/core/contract.ts). */
export { METRIC_NAMESPACE };

/** One recorded value, with every dimension (Cluster included). */
export interface RecordedMetric {
  readonly name: string;
  readonly value: number;
  readonly unit: StandardUnit;
  readonly dims: Readonly<Record<string, string>>;
  /** Also publish under these subsets of `dims` (the cluster-wide series an alarm watches). */
  readonly rollups: readonly (readonly string[])[];
  readonly at: number;
}

/**
 * Records a round's metrics with the Cluster dimension on everything and sends
 * them together on flush(): one probe round is one send, not one per metric.
 * Send failures are swallowed and counted: a metrics outage must never stop a
 * probe or a failover (the probes-silent alarm catches a controller that stops
 * publishing).
 */
abstract class BufferedMetrics implements MetricsPort {
  failures = 0;
  private pending: RecordedMetric[] = [];

  constructor(
    protected readonly cluster: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Sends one round's metrics. */
  protected abstract send(metrics: readonly RecordedMetric[]): Promise<void>;

  private record(
    name: string,
    value: number,
    unit: StandardUnit,
    dims: Record<string, string> = {},
    rollups: string[][] = [],
  ): Promise<void> {
    this.pending.push({ name, value, unit, dims: { Cluster: this.cluster, ...dims }, rollups, at: this.now() });
    return Promise.resolve();
  }

  async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    if (!batch.length) return;
    try {
      await this.send(batch);
    } catch {
      this.failures++;
    }
  }

  primaryReachable(az: string, reachable: boolean) {
    return this.record(METRICS.primaryReachable, reachable ? 1 : 0, 'Count', { Az: az });
  }
  replicaLag(node: string, bytes: number) {
    // Per node for the dashboard, and cluster-wide for the lag alarm (Maximum over the replicas).
    return this.record(METRICS.replicaLagBytes, bytes, 'Bytes', { Node: node }, [['Cluster']]);
  }
  syncStandbyMissing(missing: boolean) {
    return this.record(METRICS.syncStandbyMissing, missing ? 1 : 0, 'Count');
  }
  syncStandbyMissingSeconds(seconds: number) {
    return this.record(METRICS.syncStandbyMissingSeconds, seconds, 'Seconds');
  }
  unnamedPrimaries(az: string, count: number) {
    // Per AZ, and cluster-wide for the alarm (Maximum: one probe seeing it is enough).
    return this.record(METRICS.unnamedPrimary, count, 'Count', { Az: az }, [['Cluster']]);
  }
  failoverDuration(kind: 'failover' | 'switchover', ms: number) {
    return this.record(METRICS.failoverDuration, ms, 'Milliseconds', { Kind: kind });
  }
  bytesAtRisk(bytes: number) {
    return this.record(METRICS.bytesAtRisk, bytes, 'Bytes');
  }
  needsAttention() {
    return this.record(METRICS.needsAttention, 1, 'Count');
  }
}

/**
 * PutMetricData, one call per flush (the lab: ministack does not extract
 * metrics from logs). On AWS it costs $0.01 per 1,000 calls: a call per probe
 * round per AZ is about $78 a month, which is why EMF is the default there.
 */
export class CloudWatchMetrics extends BufferedMetrics {
  constructor(
    private readonly cw: CloudWatchClient,
    cluster: string,
    now?: () => number,
  ) {
    super(cluster, now);
  }

  protected async send(metrics: readonly RecordedMetric[]): Promise<void> {
    const data: MetricDatum[] = metrics.flatMap((m) =>
      [Object.keys(m.dims), ...m.rollups].map((set) => ({
        MetricName: m.name,
        Value: m.value,
        Unit: m.unit,
        Timestamp: new Date(m.at),
        // High resolution: the quorum alarm evaluates 10 s periods.
        StorageResolution: 1,
        Dimensions: set.map((Name) => ({ Name, Value: m.dims[Name]! })),
      })),
    );
    // PutMetricData takes at most 1,000 values per call.
    for (let i = 0; i < data.length; i += 1000) {
      await this.cw.send(
        new PutMetricDataCommand({ Namespace: METRIC_NAMESPACE, MetricData: data.slice(i, i + 1000) }),
      );
    }
  }
}

/**
 * CloudWatch Embedded Metric Format: log lines CloudWatch Logs turns into
 * metrics, no API call. An EMF document holds each dimension's value once as a
 * top-level key, so metrics whose dimension values do not clash share a line
 * (each keeps its own dimension set); a round of the probe is two lines.
 */
export class EmfMetrics extends BufferedMetrics {
  constructor(
    cluster: string,
    private readonly write: (line: string) => void = (line) => process.stdout.write(line),
    now?: () => number,
  ) {
    super(cluster, now);
  }

  protected async send(metrics: readonly RecordedMetric[]): Promise<void> {
    for (const doc of emfDocuments(metrics)) this.write(`${JSON.stringify(doc)}\n`);
  }
}

/** EMF documents for a batch: greedy packing of metrics whose dimension values agree. */
export function emfDocuments(metrics: readonly RecordedMetric[]): Record<string, unknown>[] {
  const docs: { keys: Record<string, string>; values: Record<string, number>; groups: RecordedMetric[][] }[] = [];
  // Metrics share a directive when they have the same dimension names and rollups.
  const shape = (x: RecordedMetric) => JSON.stringify([Object.keys(x.dims).sort(), x.rollups]);
  for (const m of metrics) {
    const fits = (d: (typeof docs)[number]) =>
      !(m.name in d.values) && Object.entries(m.dims).every(([k, v]) => d.keys[k] === undefined || d.keys[k] === v);
    let doc = docs.find(fits);
    if (!doc) {
      doc = { keys: {}, values: {}, groups: [] };
      docs.push(doc);
    }
    Object.assign(doc.keys, m.dims);
    doc.values[m.name] = m.value;
    const group = doc.groups.find((g) => shape(g[0]!) === shape(m));
    if (group) group.push(m);
    else doc.groups.push([m]);
  }
  return docs.map((d) => ({
    _aws: {
      Timestamp: Math.max(...d.groups.flat().map((m) => m.at)),
      CloudWatchMetrics: d.groups.map((g) => ({
        Namespace: METRIC_NAMESPACE,
        Dimensions: [Object.keys(g[0]!.dims), ...g[0]!.rollups],
        // High resolution: the quorum alarm evaluates 10 s periods.
        Metrics: g.map((m) => ({ Name: m.name, Unit: m.unit, StorageResolution: 1 })),
      })),
    },
    ...d.keys,
    ...d.values,
  }));
}

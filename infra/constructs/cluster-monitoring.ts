import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRIC_NAMESPACE, METRICS } from '../../lambdas/core/contract';
import type { ControllerSettings } from '../../lambdas/core/settings';
import type { QuorumBackstop } from './quorum-backstop';

/** Properties of {@link ClusterMonitoring}. */
export interface ClusterMonitoringProps {
  readonly cluster: string;
  readonly probeAzs: readonly string[];
  readonly settings: ControllerSettings;
  readonly stateMachine: sfn.IStateMachine;
  readonly backstop: QuorumBackstop;
  /** Every alarm, the backstop's included, notifies it. */
  readonly topic: sns.ITopic;
}

/** The alarms that page a human (each notifies the topic) and the cluster's dashboard. */
export class ClusterMonitoring extends Construct {
  /** Every alarm this construct created, by construct id (the backstop's quorum alarm is not among them). */
  readonly alarms: Record<string, cloudwatch.Alarm> = {};

  constructor(scope: Construct, id: string, props: ClusterMonitoringProps) {
    super(scope, id);
    const c = { cluster: props.cluster, thresholds: props.settings };
    const NAMESPACE = METRIC_NAMESPACE;
    const stateMachine = props.stateMachine;
    const reach = props.backstop.reachable;
    const downAzs = props.backstop.downAzs;
    const alarmAction = new cwActions.SnsAction(props.topic);
    const alarm = (id: string, metric: cloudwatch.IMetric, props: Omit<cloudwatch.AlarmProps, 'metric'>) => {
      const a = new cloudwatch.Alarm(this, id, { metric, ...props });
      a.addAlarmAction(alarmAction);
      this.alarms[id] = a;
      return a;
    };
    props.backstop.alarm.addAlarmAction(alarmAction);
    props.probeAzs.forEach((az, i) => {
      alarm(
        `ProbesSilent${i + 1}`,
        new cloudwatch.Metric({
          namespace: NAMESPACE,
          metricName: METRICS.primaryReachable,
          dimensionsMap: { Cluster: c.cluster, Az: az },
          statistic: 'SampleCount',
          period: Duration.minutes(1),
        }),
        {
          alarmDescription: `pgquorum ${c.cluster}: the probe in ${az} is silent (controller impaired: page a human, never fail over)`,
          threshold: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
          evaluationPeriods: 3,
          treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        },
      );
    });
    alarm('FailoverFailed', stateMachine.metricFailed({ period: Duration.minutes(1), statistic: 'Sum' }), {
      alarmDescription: `pgquorum ${c.cluster}: a failover/switchover run failed (see the runbook)`,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // A stopped or timed-out execution never reaches Abort: its lease stays in flight, nothing automatic happens
    // and no notification goes out, so these two page on their own (docs/runbook.md, "A stuck in-flight lease").
    alarm('RunAborted', stateMachine.metricAborted({ period: Duration.minutes(1), statistic: 'Sum' }), {
      alarmDescription: `pgquorum ${c.cluster}: a failover/switchover execution was stopped before it finished: its lease may be stuck in flight (runbook: "A stuck in-flight lease", pgquorum lease break)`,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm('RunTimedOut', stateMachine.metricTimedOut({ period: Duration.minutes(1), statistic: 'Sum' }), {
      alarmDescription: `pgquorum ${c.cluster}: a failover/switchover execution timed out: its lease is stuck in flight (runbook: "A stuck in-flight lease", pgquorum lease break)`,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm(
      'NeedsAttention',
      new cloudwatch.Metric({
        namespace: NAMESPACE,
        metricName: METRICS.needsAttention,
        dimensionsMap: { Cluster: c.cluster },
        statistic: 'Sum',
        period: Duration.minutes(1),
      }),
      {
        alarmDescription: `pgquorum ${c.cluster}: the cluster needs attention (nothing automatic happens until resumed)`,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
    );
    alarm(
      'ReplicaLag',
      new cloudwatch.Metric({
        namespace: NAMESPACE,
        metricName: METRICS.replicaLagBytes,
        dimensionsMap: { Cluster: c.cluster },
        statistic: 'Maximum',
        period: Duration.minutes(1),
      }),
      {
        alarmDescription: `pgquorum ${c.cluster}: a replica lags more than maxLagBytes (RPO budget)`,
        threshold: c.thresholds.maxLagBytes,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
    );
    alarm(
      'SyncStandbyMissing',
      // Seconds since the primary lost its last synchronous standby, from every probe round (high resolution):
      // a 10 s Maximum reaches syncStandbyAlarmSec within one period of the loss lasting that long.
      new cloudwatch.Metric({
        namespace: NAMESPACE,
        metricName: METRICS.syncStandbyMissingSeconds,
        dimensionsMap: { Cluster: c.cluster },
        statistic: 'Maximum',
        period: Duration.seconds(10),
      }),
      {
        alarmDescription: `pgquorum ${c.cluster}: no synchronous standby for ${c.thresholds.syncStandbyAlarmSec} s: commits block cluster-wide (onNoSyncStandby ${c.thresholds.onNoSyncStandby}; no failover: fix replication)`,
        threshold: c.thresholds.syncStandbyAlarmSec,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
    );
    alarm(
      'UnnamedPrimary',
      new cloudwatch.Metric({
        namespace: NAMESPACE,
        metricName: METRICS.unnamedPrimary,
        dimensionsMap: { Cluster: c.cluster },
        statistic: 'Maximum',
        period: Duration.seconds(10),
      }),
      {
        alarmDescription: `pgquorum ${c.cluster}: a node answers as a writable primary the lease does not name (two writers: see the runbook)`,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // Two periods: a probe round that straddles a commit must not page.
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
    );

    new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `pgquorum-${c.cluster}`,
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'Primary reachable, per probe AZ',
            left: reach.map(([, m]) => m),
            width: 12,
          }),
          new cloudwatch.GraphWidget({ title: 'AZs that cannot reach the primary', left: [downAzs], width: 12 }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Replica lag (bytes)',
            left: [
              new cloudwatch.Metric({
                namespace: NAMESPACE,
                metricName: METRICS.replicaLagBytes,
                dimensionsMap: { Cluster: c.cluster },
                statistic: 'Maximum',
              }),
            ],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Failover / switchover duration (ms)',
            left: ['failover', 'switchover'].map(
              (k) =>
                new cloudwatch.Metric({
                  namespace: NAMESPACE,
                  metricName: METRICS.failoverDuration,
                  dimensionsMap: { Cluster: c.cluster, Kind: k },
                  statistic: 'Maximum',
                }),
            ),
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Bytes at risk per failover',
            left: [
              new cloudwatch.Metric({
                namespace: NAMESPACE,
                metricName: METRICS.bytesAtRisk,
                dimensionsMap: { Cluster: c.cluster },
                statistic: 'Maximum',
              }),
            ],
            width: 8,
          }),
        ],
      ],
    });
  }
}

import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRIC_NAMESPACE, METRICS } from '../../lambdas/core/contract';

/** Properties of {@link QuorumBackstop}. */
export interface QuorumBackstopProps {
  readonly cluster: string;
  /** The probe AZs, in probe order. */
  readonly probeAzs: readonly string[];
  readonly stateMachine: sfn.IStateMachine;
}

/**
 * The backstop trigger: at least 2 of 3 AZs report the primary unreachable, seen by CloudWatch rather than by the
 * probes' votes, starts the same state machine (the lease makes one run win).
 */
export class QuorumBackstop extends Construct {
  readonly alarm: cloudwatch.Alarm;
  /** PrimaryReachable per probe AZ (`r0`, `r1`, `r2`), for the dashboard. */
  readonly reachable: (readonly [string, cloudwatch.Metric])[];
  /** How many AZs cannot reach the primary. */
  readonly downAzs: cloudwatch.MathExpression;

  constructor(scope: Construct, id: string, props: QuorumBackstopProps) {
    super(scope, id);
    const c = props;
    // Missing data counts as reachable: a silent probe is the probes-silent alarm's business, never a reason to fail
    // over (fail static).
    this.reachable = c.probeAzs.map(
      (az, i) =>
        [
          `r${i}`,
          new cloudwatch.Metric({
            namespace: METRIC_NAMESPACE,
            metricName: METRICS.primaryReachable,
            dimensionsMap: { Cluster: c.cluster, Az: az },
            statistic: 'Maximum',
            period: Duration.seconds(10),
          }),
        ] as const,
    );
    this.downAzs = new cloudwatch.MathExpression({
      expression: `3 - (${this.reachable.map(([k]) => `FILL(${k}, 1)`).join(' + ')})`,
      usingMetrics: Object.fromEntries(this.reachable),
      period: Duration.seconds(10),
      label: 'AZs that cannot reach the primary',
    });
    this.alarm = this.downAzs.createAlarm(this, 'QuorumDownAlarm', {
      alarmDescription: `pgquorum ${c.cluster}: at least 2 of 3 AZs cannot reach the primary (backstop trigger)`,
      threshold: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    new events.Rule(this, 'QuorumDownRule', {
      description:
        'quorum-down alarm -> failover state machine (the probes start it first; the lease makes one run win)',
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        resources: [this.alarm.alarmArn],
        detail: { state: { value: ['ALARM'] } },
      },
      targets: [
        new targets.SfnStateMachine(c.stateMachine, {
          input: events.RuleTargetInput.fromObject({
            input: { mode: 'failover', cluster: c.cluster, reason: 'quorum-down alarm' },
          }),
        }),
      ],
    });
  }
}

import { Duration } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { controllerFunction, type FunctionContext } from './controller-functions';
import { PROBE } from './tasks';

/** Properties of {@link ProbeFleet}. */
export interface ProbeFleetProps {
  readonly context: FunctionContext;
  /** One probe runs in each, pinned to the subnet's AZ. */
  readonly subnets: readonly ec2.ISubnet[];
  /** The probes start it when their AZs agree the primary is down. */
  readonly stateMachine: sfn.IStateMachine;
}

/** The probes: one per AZ, each pinned to that AZ's subnet, started every minute, looping every probeIntervalMs. */
export class ProbeFleet extends Construct {
  /** One function per probe subnet, in subnet order. */
  readonly probes: lambda.Function[];

  constructor(scope: Construct, id: string, props: ProbeFleetProps) {
    super(scope, id);
    const { context: ctx, stateMachine } = props;
    const probeAzs = props.subnets.map((s) => s.availabilityZone).join(',');
    this.probes = props.subnets.map((s, i) => {
      const f = controllerFunction(
        this,
        `Probe${i + 1}`,
        PROBE,
        ctx,
        { PGQ_AZ: s.availabilityZone, PGQ_PROBE_AZS: probeAzs, PGQ_STATE_MACHINE_ARN: stateMachine.stateMachineArn },
        s,
      );
      stateMachine.grantStartExecution(f);
      // A name already taken is "already started" only while that execution runs: the starter lists running ones.
      stateMachine.grant(f, 'states:ListExecutions');
      // Lambda retries a failed asynchronous invocation twice by default: a crashed probe loop would come back next
      // to the one the schedule starts a minute later, two loops voting for one AZ. The schedule is the retry.
      f.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });
      new events.Rule(this, `ProbeSchedule${i + 1}`, {
        description: `pgquorum ${ctx.cluster} probe in ${s.availabilityZone}`,
        schedule: events.Schedule.rate(Duration.minutes(1)),
        targets: [new targets.LambdaFunction(f, { retryAttempts: 0 })],
      });
      return f;
    });
  }
}

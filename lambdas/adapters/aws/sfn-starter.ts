import {
  ExecutionAlreadyExists,
  ListExecutionsCommand,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { RetriableError } from '../../core/errors';
import type { RunInput, StarterPort, StartResult } from '../../ports/starter-port';

/** StartExecution failed for a reason other than a duplicate. */
export class StartFailedError extends RetriableError {}

/** How many fresh names a start tries after ended executions burnt the earlier ones. */
const MAX_RESTARTS = 5;

/**
 * Execution names are derived from cluster, mode, the epoch the run will take
 * and the version of the lease it was decided on, so the probes' fast path (or
 * three probes at once) collapse into one execution; the lease's conditional
 * write is the second line of defence. The lease version matters: Step
 * Functions reserves a name for 90 days, and an epoch can repeat after a table
 * is restored from backup (or a lab is reset).
 */
export function executionName(input: RunInput, nextEpoch: number, leaseVersion?: number, restart = 0): string {
  const suffix = leaseVersion === undefined ? '' : `-v${leaseVersion.toString(36)}`;
  const base = `${input.cluster}-${input.mode}-e${nextEpoch}${suffix}`.replace(/[^A-Za-z0-9_-]/g, '-');
  const again = restart ? `-r${restart}` : '';
  return `${base.slice(0, 80 - again.length)}${again}`;
}

/** The ARN of a named execution of a state machine (the name Step Functions refused as already taken). */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

/** Starts the Step Functions state machine. */
export class SfnStarter implements StarterPort {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  /**
   * A name already taken means "already started" only while that execution
   * runs. One that ended under this name ended without taking the lease: had
   * it taken it, the lease's version (part of the name) would have moved. A
   * failed ValidateInput must not block every later start until the lease
   * changes, so the next deterministic name (`-r1`, `-r2`, ...) is tried:
   * probes racing on the same decision still collapse into one execution.
   */
  async start(input: RunInput, nextEpoch: number, leaseVersion?: number): Promise<StartResult> {
    const burnt: string[] = [];
    for (let restart = 0; restart <= MAX_RESTARTS; restart++) {
      const name = executionName(input, nextEpoch, leaseVersion, restart);
      try {
        const r = await this.sfn.send(
          new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name, input: JSON.stringify(input) }),
        );
        return {
          executionArn: r.executionArn ?? null,
          alreadyStarted: false,
          name,
          ...(burnt.length ? { replaced: burnt } : {}),
        };
      } catch (err) {
        if (!(err instanceof ExecutionAlreadyExists)) {
          throw new StartFailedError(`StartExecution ${name}: ${(err as Error).message}`);
        }
      }
      const arn = executionArnOf(this.stateMachineArn, name);
      if (await this.isRunning(name)) return { executionArn: arn, alreadyStarted: true, name };
      burnt.push(name);
    }
    throw new StartFailedError(`no free execution name after ${burnt.join(', ')}`);
  }

  /**
   * Whether the execution of that name still runs. The running executions are
   * listed rather than the one described: ListExecutions is granted on the
   * state machine itself, DescribeExecution only on a wildcard of execution ARNs.
   * A run is normally alone, so one page answers.
   */
  private async isRunning(name: string): Promise<boolean> {
    let nextToken: string | undefined;
    try {
      do {
        const r = await this.sfn.send(
          new ListExecutionsCommand({ stateMachineArn: this.stateMachineArn, statusFilter: 'RUNNING', nextToken }),
        );
        if ((r.executions ?? []).some((e) => e.name === name)) return true;
        nextToken = r.nextToken;
      } while (nextToken);
      return false;
    } catch (err) {
      throw new StartFailedError(`ListExecutions (is ${name} running?): ${(err as Error).message}`);
    }
  }
}

import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { RetriableError } from '../../core/errors';
import type { RunInput, StarterPort } from '../../ports/starter-port';

/** StartExecution failed for a reason other than a duplicate. */
export class StartFailedError extends RetriableError {}

/**
 * Execution names are derived from cluster, mode, the epoch the run will take
 * and the version of the lease it was decided on, so the probes' fast path (or
 * three probes at once) collapse into one execution; the lease's conditional
 * write is the second line of defence. The lease version matters: Step
 * Functions reserves a name for 90 days, and an epoch can repeat after a table
 * is restored from backup (or a lab is reset).
 */
export function executionName(input: RunInput, nextEpoch: number, leaseVersion?: number): string {
  const suffix = leaseVersion === undefined ? '' : `-v${leaseVersion.toString(36)}`;
  return `${input.cluster}-${input.mode}-e${nextEpoch}${suffix}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 80);
}

/** Starts the Step Functions state machine. */
export class SfnStarter implements StarterPort {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async start(input: RunInput, nextEpoch: number, leaseVersion?: number) {
    const name = executionName(input, nextEpoch, leaseVersion);
    try {
      const r = await this.sfn.send(
        new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name, input: JSON.stringify(input) }),
      );
      return { executionArn: r.executionArn ?? null, alreadyStarted: false, name };
    } catch (err) {
      if (err instanceof ExecutionAlreadyExists) return { executionArn: null, alreadyStarted: true, name };
      throw new StartFailedError(`StartExecution ${name}: ${(err as Error).message}`);
    }
  }
}

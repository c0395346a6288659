import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  InvocationDoesNotExist,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { ssmDocumentName } from '../../core/contract';
import { FatalError, HostUnreachableError, RetriableError } from '../../core/errors';
import type { HostCommandPort, HostCommandResult, HostRunOptions, HostScript } from '../../ports/host-command-port';

/** The command was delivered but did not finish in time (or SSM itself did not answer). */
export class HostCommandTimeoutError extends RetriableError {}
/** The script ran and failed. */
export class HostCommandFailedError extends FatalError {}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const TERMINAL = new Set(['Success', 'Failed', 'Cancelled', 'TimedOut', 'Cancelling']);
/** Not yet delivered to the agent: at the deadline these mean the host is unreachable, not slow. */
const UNDELIVERED = new Set(['Pending', 'Delayed']);
/** StatusDetails of a terminal invocation that never reached the agent. */
const UNDELIVERABLE = new Set(['Undeliverable', 'Delivery Timed Out', 'Terminated']);

/** A command's whole bound and its delivery bound (never past the whole), as HostRunOptions defaults them. */
function bounds(opts: HostRunOptions): { timeoutMs: number; deliveryMs: number } {
  const timeoutMs = opts.timeoutMs ?? 120000;
  return { timeoutMs, deliveryMs: Math.min(opts.deliveryTimeoutMs ?? timeoutMs, timeoutMs) };
}

/** Steady poll period of GetCommandInvocation (ms). @default 250 */
export const SSM_POLL_INTERVAL_MS = 250;

/**
 * Host scripts through SSM Run Command. Each script is its own SSM document
 * (`<prefix>-<script>`, created by the stack from infra/host-scripts), so the
 * script a run used is pinned by document version.
 */
export class SsmHostCommands implements HostCommandPort {
  /**
   * @param secretId the database secret; sent as SECRET_ID so the host reads the
   * passwords itself. Passwords are never parameters: those show in command history.
   */
  constructor(
    private readonly ssm: SSMClient,
    private readonly documentPrefix: string,
    private readonly secretId?: string,
    private readonly poll: { intervalMs?: number; sleep?: (ms: number) => Promise<void> } = {},
  ) {}

  async run(
    node: { name: string; instanceId: string },
    script: HostScript,
    params: Readonly<Record<string, string>>,
    opts: HostRunOptions = {},
  ): Promise<HostCommandResult> {
    const commandId = await this.send(node, script, params, { deliveryTimeoutMs: bounds(opts).deliveryMs });
    return this.wait(node, script, commandId, opts);
  }

  async wait(
    node: { name: string; instanceId: string },
    script: HostScript,
    commandId: string,
    opts: HostRunOptions = {},
  ): Promise<HostCommandResult> {
    const { timeoutMs, deliveryMs } = bounds(opts);
    const deadline = Date.now() + timeoutMs;
    const deliveryDeadline = Date.now() + deliveryMs;
    // A steady short period, not a doubling backoff: Run Command reports in about a second, and a doubling
    // poll (200, 400, 800, 1600 ms) can add as much again to every fence and rejoin.
    const interval = this.poll.intervalMs ?? SSM_POLL_INTERVAL_MS;
    const wait = this.poll.sleep ?? sleep;
    let status = 'not visible yet';
    for (;;) {
      await wait(Math.max(0, Math.min(interval, deadline - Date.now())));
      try {
        const inv = await this.ssm.send(
          new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: node.instanceId }),
        );
        status = inv.Status ?? status;
        if (inv.Status && TERMINAL.has(inv.Status) && UNDELIVERABLE.has(inv.StatusDetails ?? '')) {
          throw new HostUnreachableError(`${script} to ${node.name} was not delivered: ${inv.StatusDetails}`);
        }
        if (inv.Status && TERMINAL.has(inv.Status)) {
          const result = {
            exitCode: inv.ResponseCode ?? (inv.Status === 'Success' ? 0 : 1),
            stdout: inv.StandardOutputContent ?? '',
            stderr: inv.StandardErrorContent ?? '',
          };
          if (inv.Status !== 'Success') {
            throw new HostCommandFailedError(
              `${script} on ${node.name} ended ${inv.Status}: ${result.stderr.slice(-500)}`,
              result,
            );
          }
          return result;
        }
      } catch (err) {
        // Right after SendCommand the invocation may not be visible yet.
        if (!(err instanceof InvocationDoesNotExist)) throw err;
      }
      const undelivered = UNDELIVERED.has(status) || status === 'not visible yet';
      if (undelivered && deliveryMs < timeoutMs && Date.now() >= deliveryDeadline) {
        throw new HostUnreachableError(`${script} to ${node.name} not delivered within ${deliveryMs} ms (${status})`);
      }
      if (Date.now() >= deadline) {
        if (undelivered) {
          throw new HostUnreachableError(`${script} to ${node.name} not delivered within ${timeoutMs} ms (${status})`);
        }
        throw new HostCommandTimeoutError(`${script} on ${node.name} did not finish within ${timeoutMs} ms`);
      }
    }
  }

  async send(
    node: { name: string; instanceId: string },
    script: HostScript,
    params: Readonly<Record<string, string>>,
    opts: { deliveryTimeoutMs?: number } = {},
  ): Promise<string> {
    let commandId: string | undefined;
    try {
      const r = await this.ssm.send(
        new SendCommandCommand({
          DocumentName: ssmDocumentName(this.documentPrefix, script),
          InstanceIds: [node.instanceId],
          Parameters: Object.fromEntries(
            Object.entries({ ...params, ...(this.secretId ? { SECRET_ID: this.secretId } : {}) }).map(([k, v]) => [
              k,
              [v],
            ]),
          ),
          // SSM's TimeoutSeconds is a delivery bound: a command not started by then never runs (30 s at least).
          TimeoutSeconds: Math.max(30, Math.ceil((opts.deliveryTimeoutMs ?? 30000) / 1000)),
          Comment: `pgquorum ${script} on ${node.name}`,
        }),
      );
      commandId = r.Command?.CommandId;
    } catch (err) {
      // The agent is not connected (instance stopped, lost, or never registered): no retry reaches it, decide now.
      if ((err as Error).name === 'InvalidInstanceId') {
        throw new HostUnreachableError(
          `SendCommand ${script} to ${node.name}: InvalidInstanceId: ${(err as Error).message}`,
        );
      }
      throw new HostCommandTimeoutError(`SendCommand ${script} to ${node.name}: ${(err as Error).message}`);
    }
    if (!commandId) throw new HostCommandTimeoutError(`SendCommand ${script} to ${node.name}: no command id returned`);
    return commandId;
  }

  /**
   * The agent's PingStatus (DescribeInstanceInformation). SSM lists no stopped or terminated instance: undefined then,
   * and for an instance id it does not know (InvalidInstanceId), which no command would reach either.
   */
  async agentStatus(node: { name: string; instanceId: string }): Promise<string | undefined> {
    try {
      const r = await this.ssm.send(
        new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [node.instanceId] }] }),
      );
      return r.InstanceInformationList?.find((i) => i.InstanceId === node.instanceId)?.PingStatus;
    } catch (err) {
      if ((err as Error).name === 'InvalidInstanceId') return undefined;
      throw err;
    }
  }

  /** On EC2 the way to sever tracked connections is to stop the postmaster at once. */
  async severConnections(
    node: { name: string; instanceId: string },
    opts: { timeoutMs?: number } = {},
  ): Promise<number> {
    await this.run(node, 'stop-postgres-immediate', {}, { timeoutMs: opts.timeoutMs ?? 30000 });
    return -1;
  }
}

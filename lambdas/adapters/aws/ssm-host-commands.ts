import {
  GetCommandInvocationCommand,
  InvocationDoesNotExist,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { FatalError, RetriableError } from '../../core/errors';
import type { HostCommandPort, HostCommandResult, HostScript } from '../../ports/host-command-port';

/** The command could not be delivered or did not finish in time. */
export class HostCommandTimeoutError extends RetriableError {}
/** The script ran and failed. */
export class HostCommandFailedError extends FatalError {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TERMINAL = new Set(['Success', 'Failed', 'Cancelled', 'TimedOut', 'Cancelling']);

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
  ) {}

  async run(
    node: { name: string; instanceId: string },
    script: HostScript,
    params: Readonly<Record<string, string>>,
    opts: { timeoutMs?: number } = {},
  ): Promise<HostCommandResult> {
    const timeoutMs = opts.timeoutMs ?? 120000;
    let commandId: string;
    try {
      const r = await this.ssm.send(
        new SendCommandCommand({
          DocumentName: `${this.documentPrefix}-${script}`,
          InstanceIds: [node.instanceId],
          Parameters: Object.fromEntries(
            Object.entries({ ...params, ...(this.secretId ? { SECRET_ID: this.secretId } : {}) }).map(([k, v]) => [
              k,
              [v],
            ]),
          ),
          TimeoutSeconds: Math.max(30, Math.ceil(timeoutMs / 1000)),
          Comment: `pgquorum ${script} on ${node.name}`,
        }),
      );
      commandId = r.Command!.CommandId!;
    } catch (err) {
      throw new HostCommandTimeoutError(`SendCommand ${script} to ${node.name}: ${(err as Error).message}`);
    }
    const deadline = Date.now() + timeoutMs;
    let delay = 200;
    for (;;) {
      await sleep(delay);
      delay = Math.min(delay * 2, 2000);
      try {
        const inv = await this.ssm.send(
          new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: node.instanceId }),
        );
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
      if (Date.now() > deadline)
        throw new HostCommandTimeoutError(`${script} on ${node.name} did not finish within ${timeoutMs} ms`);
    }
  }

  /** On EC2 the way to sever tracked connections is to stop the postmaster at once. */
  async severConnections(node: { name: string; instanceId: string }): Promise<number> {
    await this.run(node, 'stop-postgres-immediate', {}, { timeoutMs: 30000 });
    return -1;
  }
}

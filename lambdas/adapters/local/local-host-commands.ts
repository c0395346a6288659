import { execFile } from 'node:child_process';
import path from 'node:path';
import { FatalError, RetriableError } from '../../core/errors';
import type { HostCommandPort, HostCommandResult, HostScript } from '../../ports/host-command-port';

/** The lab's host executor could not run or finish the script. */
export class LocalHostCommandError extends RetriableError {}
/** The script ran and failed. */
export class LocalHostCommandFailedError extends FatalError {}

/** Where the lab keeps a node (data directory) and how its supervisor starts/stops it. */
export interface LocalHostLayout {
  /** Directory holding the host scripts (infra/host-scripts). */
  scriptsDir: string;
  /** Data directory per node. */
  dataDirs: Readonly<Record<string, string>>;
  /** The lab supervisor's control URL (it owns the postmasters, so it starts and stops them). */
  controlUrl: string;
  pgBin: string;
  /** Passwords the scripts write into the host's passfile (SSM hosts read them from Secrets Manager instead). */
  passwords?: { DB_PASSWORD: string; REPL_PASSWORD: string };
}

/**
 * Runs the same host scripts SSM runs on EC2, on this machine, for the lab.
 * Only the service commands differ: the lab's supervisor owns each postmaster
 * (so a killed one is reaped at once), so start/stop go through its control API.
 */
export class LocalHostCommands implements HostCommandPort {
  constructor(private readonly layout: LocalHostLayout) {}

  private ctl(route: string, body: object): string {
    return `curl -sf -m 60 -X POST ${this.layout.controlUrl}${route} -d '${JSON.stringify(body)}' >/dev/null`;
  }

  run(
    node: { name: string; instanceId: string },
    script: HostScript,
    params: Readonly<Record<string, string>>,
    opts: { timeoutMs?: number } = {},
  ): Promise<HostCommandResult> {
    const pgdata = this.layout.dataDirs[node.name];
    if (!pgdata) return Promise.reject(new LocalHostCommandFailedError(`no data directory known for ${node.name}`));
    const env = {
      ...process.env,
      ...params,
      ...this.layout.passwords,
      PGDATA: pgdata,
      PGBIN: this.layout.pgBin,
      START_CMD: this.ctl('/pg-start', { node: node.name }),
      STOP_FAST_CMD: this.ctl('/pg-stop', { node: node.name, mode: 'fast' }),
      STOP_IMMEDIATE_CMD: this.ctl('/pg-stop', { node: node.name, mode: 'immediate' }),
    };
    return new Promise((resolve, reject) => {
      execFile(
        'bash',
        [path.join(this.layout.scriptsDir, `${script}.sh`)],
        { env, timeout: opts.timeoutMs ?? 120000, maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const e = err as (Error & { code?: number | string; killed?: boolean }) | null;
          const result = { exitCode: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr };
          if (e?.killed) return reject(new LocalHostCommandError(`${script} on ${node.name} timed out`, result));
          if (e)
            return reject(
              new LocalHostCommandFailedError(
                `${script} on ${node.name} failed (${result.exitCode}): ${stderr.slice(-500)}`,
                result,
              ),
            );
          resolve(result);
        },
      );
    });
  }

  /**
   * In the lab the "network" is the node's gate: severing closes the
   * connections the gate tracked, and the immediate stop ends the server side,
   * as the SSM path does on EC2.
   */
  async severConnections(
    node: { name: string; instanceId: string },
    opts: { timeoutMs?: number } = {},
  ): Promise<number> {
    // Bounded like the stop itself: the fence decides its next rung when the host does not answer in time.
    const r = await fetch(`${this.layout.controlUrl}/sever`, {
      method: 'POST',
      body: JSON.stringify({ node: node.name }),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 30000),
    }).catch((err: Error) => {
      throw new LocalHostCommandError(`sever ${node.name}: ${err.message}`);
    });
    if (!r.ok) throw new LocalHostCommandError(`sever ${node.name}: HTTP ${r.status}`);
    const { severed } = (await r.json()) as { severed: number };
    await this.run(node, 'stop-postgres-immediate', {}, { timeoutMs: opts.timeoutMs ?? 30000 });
    return severed;
  }
}

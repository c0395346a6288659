import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { executionName } from '../../lambdas/adapters/aws/sfn-starter';
import { readCause } from '../../lambdas/core/readable-reason';
import type { Mode } from '../../lambdas/core/types';
import { buildClusterView } from '../../lambdas/handlers/cluster-view';
import type { Deps } from '../../lambdas/handlers/deps';
import type { RunInput } from '../../lambdas/ports/starter-port';
import { checkRunRequest, checkRunView, checkToFlag } from '../checks';
import { confirm } from '../confirm';
import type { CliContext } from '../context';
import { EnvironmentError, OperationFailedError, RefusedError } from '../errors';
import { formatDuration, formatProgress, summarizeEvent } from '../format';
import type { Output } from '../output';

/** Options of `switchover` and `failover`. */
export interface RunOptions {
  readonly to?: string;
  readonly force?: boolean;
  readonly yes?: boolean;
  readonly reason?: string;
  readonly json?: boolean;
  /** Give up following the run after this long (the run itself continues). */
  readonly timeoutSec?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The view the state machine's checks run on, built by the handlers' own
 * buildClusterView (it reads only the PostgreSQL port, the clock and the
 * cluster name). Undefined when this machine cannot reach any node (on AWS
 * from outside the VPC): ValidateInput still checks inside the state machine.
 */
async function viewFor(ctx: CliContext, primary: string) {
  const pg = await ctx.pg();
  if (!pg) return undefined;
  const d = { pg, now: ctx.now, config: { PGQ_CLUSTER: ctx.target.cluster } } as unknown as Deps;
  const [nodes, votes] = await Promise.all([ctx.store.listNodes(), ctx.store.getVotes()]);
  const { view } = await buildClusterView(d, { primary, nodes, votes });
  return view.nodes.some((n) => n.role !== 'unknown') ? view : undefined;
}

/** Result of a followed run (printed as JSON with --json). */
export interface RunOutcome {
  readonly mode: Mode;
  readonly execution: string;
  readonly status: string;
  readonly epoch: number;
  readonly oldPrimary: string;
  readonly newPrimary: string;
  readonly elapsedMs: number;
  readonly succeeded: boolean;
  readonly error?: string;
  readonly cause?: string;
  readonly event?: ReturnType<typeof summarizeEvent>;
}

/**
 * `switchover` / `failover`: pre-check, confirm, StartExecution with the bare
 * input the state machine accepts, follow the event timeline, print the outcome.
 */
export async function runCommand(ctx: CliContext, mode: Mode, o: RunOptions, out: Output): Promise<RunOutcome> {
  const { store, target } = ctx;
  const [lease, nodes] = await Promise.all([store.getLease(), store.listNodes()]);
  // '' (`--to ""`) is a name that matches no node, never "no --to": checkToFlag refuses it before this.
  checkToFlag(o);
  const req = {
    mode,
    force: Boolean(o.force),
    ...(o.to !== undefined ? { target: o.to } : {}),
    ...(o.reason ? { reason: o.reason } : {}),
  };
  checkRunRequest(req, lease, nodes, target.settings, ctx.now());
  const view = await viewFor(ctx, lease.primary);
  let planned = o.to;
  if (view) planned = checkRunView(req, view, target.settings);
  else out.note('warning: no node answered this machine: the state machine will check the target itself');
  if (!target.stateMachineArn) {
    throw new EnvironmentError(
      target.kind === 'lab'
        ? 'the controller is not deployed to the lab (its outputs name no state machine): run `npm run lab -- deploy`'
        : `no state machine found for cluster ${target.cluster}: pass --state-machine-arn`,
    );
  }
  const next = lease.epoch + 1;
  await confirm(
    `${mode} cluster ${target.cluster} from ${lease.primary} to ${planned ?? 'the best replica'} (epoch ${lease.epoch} -> ${next})${
      mode === 'failover' ? ', FORCED: no quorum check, the old primary is fenced' : ''
    }?`,
    { yes: o.yes },
  );
  const input: RunInput = {
    mode,
    cluster: target.cluster,
    ...(o.to !== undefined ? { target: o.to } : {}),
    ...(mode === 'failover' ? { force: true } : {}),
    reason: o.reason ?? `operator ${mode} via pgquorum CLI${o.to ? ` to ${o.to}` : ''}`,
  };
  // A unique name: the epoch-derived one collapses duplicate automatic triggers, but a name refused once
  // (ValidateInput) would block every retry of the same operator command.
  const name = `${executionName(input, next)}-op-${Date.now().toString(36)}`.slice(0, 80);
  const t0 = ctx.now();
  let executionArn: string;
  try {
    const r = await ctx.clients.sfn.send(
      new StartExecutionCommand({ stateMachineArn: target.stateMachineArn, name, input: JSON.stringify(input) }),
    );
    executionArn = r.executionArn!;
  } catch (err) {
    throw new OperationFailedError(`StartExecution failed: ${(err as Error).name}: ${(err as Error).message}`);
  }
  out.note(`started ${name}`);
  const deadline = t0 + (o.timeoutSec ?? 300) * 1000;
  let shown = 0;
  let status = 'RUNNING';
  let error: string | undefined;
  let cause: string | undefined;
  const showSteps = async () => {
    const ev = await store.getEvent(next).catch(() => undefined);
    if (!ev) return undefined;
    const steps = [...ev.timeline].sort((a, b) => a.at - b.at);
    for (const s of steps.slice(shown)) out.note(formatProgress(s, ev.startedAt));
    shown = Math.max(shown, steps.length);
    return ev;
  };
  for (;;) {
    const x = await ctx.clients.sfn.send(new DescribeExecutionCommand({ executionArn })).catch(() => undefined);
    await showSteps();
    if (x?.status && x.status !== 'RUNNING') {
      status = x.status;
      error = x.error;
      cause = x.cause;
      break;
    }
    if (ctx.now() > deadline) {
      throw new OperationFailedError(
        `${name} still running after ${o.timeoutSec ?? 300} s; it continues: follow it with \`pgquorum history ${next}\``,
      );
    }
    await sleep(250);
  }
  const event = await showSteps();
  const after = await store.getLease();
  const committed = event?.outcome === 'committed' && after.primary !== lease.primary;
  const succeeded = status === 'SUCCEEDED' && committed && (!o.to || after.primary === o.to);
  const outcome: RunOutcome = {
    mode,
    execution: name,
    status,
    epoch: after.epoch,
    oldPrimary: lease.primary,
    newPrimary: after.primary,
    elapsedMs: ctx.now() - t0,
    succeeded,
    ...(error ? { error } : {}),
    ...(cause ? { cause } : {}),
    ...(event ? { event: summarizeEvent(event) } : {}),
  };
  if (succeeded) {
    out.result(
      outcome,
      `${mode} committed: ${after.primary} is the primary (epoch ${after.epoch}, lease ${after.state}); ` +
        `${formatDuration(outcome.event?.durationMs)} from lease to commit, ${formatDuration(outcome.elapsedMs)} in all` +
        (event?.rejoin ? `\n${lease.primary}: ${event.rejoin}` : ''),
    );
    return outcome;
  }
  out.result(outcome);
  // A switchover that failed before its promotion and restarted the old primary: writes are back, the run failed.
  if (event?.outcome === 'rolled-back') {
    throw new OperationFailedError(
      `${mode} rolled back: writes are back on ${after.primary} (lease ${after.state} at epoch ${after.epoch}): ${(
        event.reason || after.reason
      ).replace(/^switchover \S+ -> \S+ rolled back: /, '')}`,
    );
  }
  const why = readCause(cause ?? event?.reason ?? after.reason ?? '').message;
  // The state machine refused before touching anything: the same class of answer as a pre-check.
  if (error === 'PgQuorum.InputRejected' || error === 'PgQuorum.LeaseNotAcquired')
    throw new RefusedError(`${mode} refused by the state machine: ${why}`);
  throw new OperationFailedError(
    `${mode} did not commit (${status}${error ? ` ${error}` : ''}): ${why || 'see pgquorum history'}; lease is ${after.state} at epoch ${after.epoch}`,
  );
}

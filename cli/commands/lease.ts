import { DescribeExecutionCommand, ExecutionDoesNotExist } from '@aws-sdk/client-sfn';
import { LeaseConflictError } from '../../lambdas/adapters/aws/dynamo-store';
import { executionArnOf } from '../../lambdas/adapters/aws/sfn-starter';
import { IN_FLIGHT_TASK_DRAIN_MS } from '../../lambdas/core/contract';
import { resumeDecision } from '../../lambdas/core/guards';
import { breakLease, pauseLease, resumeLease, resumePausedLease } from '../../lambdas/core/lease';
import { voterAzs } from '../../lambdas/core/quorum';
import type { Lease } from '../../lambdas/core/types';
import { endpointOf } from '../../lambdas/handlers/cluster-view';
import { checkNode } from '../checks';
import { confirm } from '../confirm';
import type { CliContext } from '../context';
import { EnvironmentError, RefusedError } from '../errors';
import type { Output } from '../output';

/** Options of `pause` and `resume`. */
export interface LeaseOptions {
  readonly yes?: boolean;
  readonly reason?: string;
  /** resume: the primary the operator verified (required after needs-attention). */
  readonly primary?: string;
}

/**
 * Writes a lease transition through the store's one compare-and-set, re-deciding on the lease it reads: the
 * operator confirmed a change from `before`, so a lease that moved meanwhile refuses instead of being overwritten.
 */
async function write(ctx: CliContext, before: Lease, next: Lease, what: string): Promise<void> {
  try {
    const t = await ctx.store.transitionLease((l) =>
      l.epoch === before.epoch && l.state === before.state && l.rev === before.rev
        ? { ok: true, lease: { ...next, rev: l.rev } }
        : { ok: false, reason: `the lease moved to epoch ${l.epoch} (${l.state}) since it was read` },
    );
    if (!t.ok) throw new RefusedError(`${what} refused: ${t.reason}; nothing changed`);
  } catch (err) {
    if (err instanceof LeaseConflictError) throw new RefusedError(`${what} refused: ${err.message}; nothing changed`);
    throw err;
  }
}

/** `pause`: nothing automatic happens until resume (switchover still works). */
export async function pauseCommand(ctx: CliContext, o: LeaseOptions, out: Output): Promise<Lease> {
  const lease = await ctx.store.getLease();
  const r = pauseLease(lease, { now: ctx.now(), reason: o.reason ?? 'paused by operator (pgquorum pause)' });
  if (!r.ok) throw new RefusedError(`pause refused: ${r.reason}`);
  if (r.lease === lease) {
    out.result(lease, `cluster ${ctx.target.cluster} is already paused (epoch ${lease.epoch}): ${lease.reason}`);
    return lease;
  }
  await confirm(`pause cluster ${ctx.target.cluster}: no automatic failover until resume?`, { yes: o.yes });
  await write(ctx, lease, r.lease, 'pause');
  out.result(
    r.lease,
    `cluster ${ctx.target.cluster} paused at epoch ${lease.epoch}: no automatic failover until \`pgquorum resume\` (switchover still works)`,
  );
  return r.lease;
}

/** `resume [--primary NODE]`: back to steady; after needs-attention the operator names the verified primary. */
export async function resumeCommand(ctx: CliContext, o: LeaseOptions, out: Output): Promise<Lease> {
  const [lease, nodes] = await Promise.all([ctx.store.getLease(), ctx.store.listNodes()]);
  if (o.primary !== undefined) {
    checkNode(o.primary, nodes);
    // Never record as primary a node that answers as something else: that would aim the next failover wrong.
    const pg = await ctx.pg();
    const node = nodes.find((n) => n.name === o.primary)!;
    const p = pg ? await pg.probe(endpointOf(node)) : undefined;
    if (p?.ok === true && p.role !== 'primary') {
      throw new RefusedError(`resume refused: ${o.primary} answers as a ${p.role}, not as the primary`);
    }
    if (!p?.ok) out.note(`warning: ${o.primary} did not answer this machine: recording it as primary on your word`);
  }
  // Never race the probes (issue 13): steady only when a majority of their fresh votes see the primary up;
  // otherwise the primary is recorded with the lease paused, and the operator resumes again once they do.
  const votes = await ctx.store.getVotes();
  // The CLI does not know the deployed probe AZs: the votes name them, padded as ConfirmQuorum pads them.
  const probeAzs = voterAzs(undefined, votes);
  const decision = resumeDecision(lease, {
    ...(o.primary ? { primary: o.primary } : {}),
    votes,
    probeAzs,
    now: ctx.now(),
    settings: ctx.target.settings,
  });
  if (decision.action === 'refuse') throw new RefusedError(`resume refused: ${decision.reason}`);
  if (decision.action === 'paused') {
    if (lease.state === 'paused' && lease.primary === decision.primary) {
      throw new RefusedError(`resume refused: ${decision.reason}`);
    }
    const p = resumePausedLease(lease, {
      now: ctx.now(),
      reason: `resumed by operator, paused until the probes see ${decision.primary} up: ${decision.reason}`.slice(
        0,
        900,
      ),
      primary: decision.primary,
    });
    if (!p.ok) throw new RefusedError(`resume refused: ${p.reason}`);
    await confirm(
      `record ${decision.primary} as primary of cluster ${ctx.target.cluster} with automatic failover still off (paused)?`,
      { yes: o.yes },
    );
    await write(ctx, lease, p.lease, 'resume');
    out.result(p.lease, `cluster ${ctx.target.cluster} paused at epoch ${p.lease.epoch}: ${decision.reason}`);
    return p.lease;
  }
  const r = resumeLease(lease, {
    now: ctx.now(),
    reason: o.reason ?? `resumed by operator (pgquorum resume${o.primary ? ` --primary ${o.primary}` : ''})`,
    ...(o.primary ? { primary: o.primary } : {}),
  });
  if (!r.ok) throw new RefusedError(`resume refused: ${r.reason}`);
  if (r.lease === lease) {
    out.result(
      lease,
      `cluster ${ctx.target.cluster} is already steady (epoch ${lease.epoch}, primary ${lease.primary})`,
    );
    return lease;
  }
  await confirm(
    `resume cluster ${ctx.target.cluster} from ${lease.state} with ${r.lease.primary} as primary: automatic failover on again?`,
    { yes: o.yes },
  );
  await write(ctx, lease, r.lease, 'resume');
  out.result(
    r.lease,
    `cluster ${ctx.target.cluster} resumed: steady at epoch ${r.lease.epoch}, primary ${r.lease.primary}`,
  );
  return r.lease;
}

/** Options of `lease break`. */
export interface LeaseBreakOptions {
  readonly epoch: number;
  readonly yes?: boolean;
  readonly reason?: string;
}

/**
 * `lease break --epoch N`: clears an in-flight lease whose execution can no
 * longer end it (stopped, timed out, or failed where no Catch reaches Abort,
 * such as States.DataLimitExceeded), to needs-attention as an abort would.
 * Refused while the holder execution still runs: it may still be acting.
 */
export async function leaseBreakCommand(ctx: CliContext, o: LeaseBreakOptions, out: Output): Promise<Lease> {
  const lease = await ctx.store.getLease();
  const holder = lease.run?.holder ?? lease.holder;
  let holderStatus = 'UNKNOWN';
  let holderEndedAt: number | undefined;
  if (holder && ctx.target.stateMachineArn) {
    const arn = executionArnOf(ctx.target.stateMachineArn, holder);
    holderStatus = await ctx.clients.sfn
      .send(new DescribeExecutionCommand({ executionArn: arn }))
      .then((r) => {
        holderEndedAt = r.stopDate ? new Date(r.stopDate).getTime() : undefined;
        return r.status ?? 'UNKNOWN';
      })
      .catch((err: Error) => {
        if (err instanceof ExecutionDoesNotExist) return 'MISSING';
        throw new EnvironmentError(`cannot tell whether ${holder} still runs (DescribeExecution: ${err.message})`);
      });
  } else if (holder) {
    throw new EnvironmentError(
      `cannot tell whether ${holder} still runs: no state machine known (--state-machine-arn)`,
    );
  }
  const reason =
    o.reason ?? `lease of epoch ${o.epoch} broken by operator (holder ${holder ?? 'unknown'}: ${holderStatus})`;
  const r = breakLease(lease, {
    epoch: o.epoch,
    holderStatus,
    now: ctx.now(),
    reason,
    ...(holderEndedAt !== undefined ? { holderEndedAt } : {}),
    drainMs: IN_FLIGHT_TASK_DRAIN_MS,
  });
  if (!r.ok) throw new RefusedError(`lease break refused: ${r.reason}`);
  await confirm(
    `break the ${lease.state} lease of epoch ${o.epoch} (holder ${holder ?? 'unknown'}, ${holderStatus}) to needs-attention?`,
    { yes: o.yes },
  );
  await write(ctx, lease, r.lease, 'lease break');
  out.result(
    r.lease,
    `epoch ${o.epoch} broken: needs-attention (${reason}); check the nodes, then \`pgquorum resume --primary NODE\``,
  );
  return r.lease;
}

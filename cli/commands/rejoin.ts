import { InvokeCommand } from '@aws-sdk/client-lambda';
import { rejoinWanted } from '../../lambdas/core/commit-health';
import { endpointOf } from '../../lambdas/handlers/cluster-view';
import type { RunState } from '../../lambdas/handlers/run-state';
import { checkNode } from '../checks';
import { confirm } from '../confirm';
import type { CliContext } from '../context';
import { EnvironmentError, OperationFailedError, RefusedError } from '../errors';
import type { Output } from '../output';

/** Options of `rejoin`. */
export interface RejoinOptions {
  readonly yes?: boolean;
}

/** What `rejoin` reports. */
export interface RejoinOutcome {
  readonly node: string;
  readonly primary: string;
  readonly epoch: number;
  readonly detail: string;
  readonly status: string;
  readonly succeeded: boolean;
}

/**
 * `rejoin NODE`: re-runs the controller's own rejoin step (the deployed
 * rejoin-old-primary function: pg_rewind, or re-clone when rewind cannot,
 * restart as a replica of the current primary, lost-transaction listing,
 * security group restored) for a node a failover left behind. It runs under
 * the current epoch, whose event records the outcome.
 */
export async function rejoinCommand(
  ctx: CliContext,
  node: string,
  o: RejoinOptions,
  out: Output,
): Promise<RejoinOutcome> {
  const [lease, nodes] = await Promise.all([ctx.store.getLease(), ctx.store.listNodes()]);
  checkNode(node, nodes);
  if (node === lease.primary) throw new RefusedError(`rejoin refused: ${node} is the primary`);
  if (lease.state !== 'steady' && lease.state !== 'paused') {
    throw new RefusedError(`rejoin refused: the lease is ${lease.state} (epoch ${lease.epoch}): ${lease.reason}`);
  }
  const registered = nodes.find((n) => n.name === node)!;
  const primaryNode = nodes.find((n) => n.name === lease.primary);
  const pg = await ctx.pg();
  const [self, primary] = pg
    ? await Promise.all([pg.probe(endpointOf(registered)), primaryNode ? pg.probe(endpointOf(primaryNode)) : undefined])
    : [undefined, undefined];
  if (self?.ok && self.role === 'replica' && self.streaming && !rejoinWanted(registered.status)) {
    throw new RefusedError(`rejoin refused: ${node} is already a streaming replica (from ${self.upstream ?? '?'})`);
  }
  if (self?.ok && self.role === 'primary') {
    out.note(`warning: ${node} answers as a primary: rejoin rewinds it onto ${lease.primary}'s timeline`);
  }
  const fn = ctx.target.functions['rejoin-old-primary'];
  if (!fn) {
    throw new EnvironmentError(
      ctx.target.kind === 'lab'
        ? 'the controller is not deployed to the lab (its outputs name no rejoin function): run `npm run lab -- deploy`'
        : `no rejoin-old-primary function found for cluster ${ctx.target.cluster}`,
    );
  }
  await confirm(`rejoin ${node} as a replica of ${lease.primary} (pg_rewind, or a full re-clone if that fails)?`, {
    yes: o.yes,
  });
  const state: RunState = {
    input: { mode: 'failover', cluster: ctx.target.cluster, reason: `operator rejoin of ${node}` },
    epoch: lease.epoch,
    oldPrimary: node,
    candidate: lease.primary,
    ...(primary?.ok && primary.timeline ? { newTimeline: primary.timeline } : {}),
  };
  out.note(`running ${fn} for ${node} (may take minutes when it re-clones)`);
  const r = await ctx.lambda
    .send(new InvokeCommand({ FunctionName: fn, Payload: Buffer.from(JSON.stringify({ state })) }))
    .catch((err: Error) => {
      throw new OperationFailedError(`invoke ${fn}: ${err.name}: ${err.message}`);
    });
  const payload = r.Payload ? Buffer.from(r.Payload).toString('utf8') : '';
  if (r.FunctionError) {
    let msg = payload;
    try {
      msg = (JSON.parse(payload) as { errorMessage?: string }).errorMessage ?? payload;
    } catch {
      // raw payload
    }
    throw new OperationFailedError(`rejoin of ${node} failed: ${msg.split('\n')[0]}`);
  }
  const result = (payload ? JSON.parse(payload) : {}) as Partial<RunState>;
  // The reader record is updated by the out-of-VPC settle step, as at the end of a state-machine run.
  const settle = ctx.target.functions['settle-rejoin'];
  if (settle) {
    const s = await ctx.lambda
      .send(
        new InvokeCommand({
          FunctionName: settle,
          Payload: Buffer.from(JSON.stringify({ state: { ...state, ...result } })),
        }),
      )
      .catch((err: Error) => ({ FunctionError: `${err.name}: ${err.message}` }));
    if (s.FunctionError)
      out.note(`reader record not refreshed (${settle}: ${s.FunctionError}); it is refreshed by the next run`);
  }
  const after = (await ctx.store.listNodes()).find((n) => n.name === node);
  // Script output can span lines; the operator needs one.
  const detail = (result.rejoin ?? '(no detail returned)').replace(/\s*\n\s*/g, ' ').trim();
  const outcome: RejoinOutcome = {
    node,
    primary: lease.primary,
    epoch: lease.epoch,
    detail,
    status: after?.status ?? 'unknown',
    // afterCommit reports `rejoin of X failed: ...` or `rejoin skipped: ...`; a fallback to re-clone is a success.
    succeeded: after?.status === 'healthy' && !/^rejoin (of \S+ failed|skipped)/.test(detail),
  };
  out.result(outcome, `${outcome.detail} (registry: ${outcome.status})`);
  if (!outcome.succeeded) throw new OperationFailedError(`rejoin of ${node} did not complete: ${outcome.detail}`);
  return outcome;
}

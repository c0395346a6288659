import { NEEDS_RECLONE } from '../core/commit-health';
import { FatalError } from '../core/errors';
import { replanRun } from '../core/lease';
import { readCause } from '../core/readable-reason';
import { replanDecision } from '../core/replan';
import type { RegisteredNode } from '../ports/store-port';
import { findNode } from './cluster-view';
import type { Deps } from './deps';
import { heldRun, type Phase, record, StepRefusedError, task } from './task';

/** Replan could not fence the failed candidate: never promote another node (invariant 1). */
export class ReplanFenceError extends FatalError {}

/** The run gave up its last candidate (maxReplans reached, or no node left): the reason names the next command. */
export class ReplanGiveUpError extends FatalError {}

/**
 * Fences a given-up candidate: ingress revoked and proven closed (throws when it is not), then PostgreSQL stopped
 * within the fence's short bound, best effort (a dead host cannot be stopped; its closed ingress keeps clients
 * away). Each rung goes on the timeline.
 */
async function fenceCandidate(d: Deps, state: Phase<'epoch'>, node: RegisteredNode): Promise<void> {
  const { revokedRules } = await d.fence.revokeIngress(node, state.epoch);
  if (!(await d.fence.ingressClosed(node.securityGroupId))) throw new Error('ingress still open after the revoke');
  await record(
    d,
    state,
    'replan-fence-revoke',
    `${node.name}: revoked ${revokedRules} ingress rule(s) on ${node.securityGroupId}`,
  );
  const boundMs = d.config.settings.fence.hostStopTimeoutSec * 1000;
  const stopped = await d.host
    .severConnections(node, { timeoutMs: boundMs })
    .then(() => 'postgres stopped')
    .catch((err: Error) => `postgres not stopped (${err.name}: ${err.message.slice(0, 200)}); its ingress is revoked`);
  await record(d, state, 'replan-fence-stop', `${node.name}: ${stopped}`);
}

/**
 * The failover's candidate failed after it was chosen (Promote failed or timed out, it became unreachable or
 * stopped being primary before the commit). Decided in core (replan.ts): either give up (the run aborts into
 * needs-attention with the reason) or fence the candidate, record it as excluded (replanRun) and let the state
 * machine choose again without it. Fenced before the record changes, because the record's change is what lets
 * a second node be promoted: ingress revoked and proven closed, then PostgreSQL stopped within the fence's short
 * bound, best effort (a dead host cannot be stopped; its closed ingress keeps clients away). A retry after the
 * record changed finds the candidate excluded and repeats the same fence (idempotent).
 */
export const handler = task(
  'replan',
  { needs: ['epoch', 'oldPrimary'], policy: 'holder' },
  async (state, d, ev, ctx) => {
    const candidate = state.candidate;
    if (!candidate || state.input.mode !== 'failover') {
      throw new StepRefusedError(
        `replan refused: ${candidate ? `a ${state.input.mode} does not re-plan` : 'no candidate to give up'}`,
      );
    }
    const run = heldRun(ctx);
    const nodes = await d.store.listNodes();
    // Bounded: the failure goes into every re-plan reason, the lease's and the timeline's.
    const failure = readCause(state.error, { max: 300, fallback: 'unknown error' }).message;
    const decision = replanDecision({
      candidate,
      oldPrimary: state.oldPrimary,
      excluded: run.excluded ?? [],
      nodes: nodes.map((n) => n.name),
      maxReplans: d.config.settings.maxReplans,
      failure,
    });
    const node = findNode(nodes, candidate);
    // Marked before anything else, on both paths: whatever the fence below manages, a node that may have promoted
    // is never rewound later (core rejoinMethod), nor counted a healthy replica behind the reader record.
    if (node.status !== NEEDS_RECLONE) {
      await d.store.writeGuarded(
        { epoch: state.epoch },
        { nodes: [{ ...node, role: 'replica', status: NEEDS_RECLONE }] },
      );
    }
    if (decision.action === 'give-up') {
      // The last candidate is fenced like every other given-up one: a Promote that failed may still end recovery
      // (a pg_promote that timed out, a host that restarts mid-promotion), and the reason says it is fenced.
      const unfenced = await fenceCandidate(d, state, node).then(
        () => '',
        (err: Error) =>
          `; but ${candidate}'s ingress could NOT be revoked (${err.message.slice(0, 200)}): fence it by hand first`,
      );
      const reason = `${decision.reason}${unfenced}`;
      await record(d, state, 'replan-give-up', reason);
      throw new ReplanGiveUpError(reason);
    }
    try {
      await fenceCandidate(d, state, node);
    } catch (err) {
      const reason = `candidate ${candidate} failed (${failure}) and its ingress could not be revoked (${(err as Error).message}): no other node is promoted; needs attention`;
      await record(d, state, 'replan-fence-failed', reason);
      throw new ReplanFenceError(reason);
    }
    const t = await d.store.transitionLease(
      (l) => replanRun(l, { epoch: state.epoch, holder: ev.executionName, candidate }),
      (after) => ({ event: { epoch: state.epoch, fields: { excluded: after.run?.excluded ?? decision.excluded } } }),
    );
    if (!t.ok) throw new StepRefusedError(`replan refused: ${t.reason}`);
    await record(d, state, 'replan', decision.reason);
    const followed = state.newTimeline !== undefined && state.promotedLsn ? [state.newTimeline] : [];
    return {
      ...state,
      candidate: undefined,
      candidateReason: undefined,
      candidateLsn: undefined,
      promotedLsn: undefined,
      newTimeline: undefined,
      replicas: undefined,
      repointed: undefined,
      dns: undefined,
      readers: undefined,
      error: undefined,
      excluded: [...(t.lease.run?.excluded ?? decision.excluded)],
      followedTimelines: [...new Set([...(state.followedTimelines ?? []), ...followed])],
      replan: { count: (state.replan?.count ?? 0) + 1, reason: decision.reason },
    };
  },
);

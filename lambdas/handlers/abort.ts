import { describeFencedNode } from '../core/fence-ladder';
import { abortLease } from '../core/lease';
import { readableReason } from '../core/readable-reason';
import type { RunRecord } from '../core/types';
import type { Deps } from './deps';
import type { RunState } from './run-state';
import { task } from './task';

/**
 * The fenced node's condition for the notification, when this run reached the fence: ingress (asked of EC2
 * now), PostgreSQL (stopped only when a fence rung recorded it), the instance's EC2 state. Best effort: an
 * EC2 error leaves a part unknown, it never stops the abort.
 */
async function fencedNodeCondition(state: RunState, d: Deps): Promise<string | undefined> {
  if (state.epoch === undefined || !state.oldPrimary || state.input.mode !== 'failover') return undefined;
  const event = await d.store.getEvent(state.epoch).catch(() => undefined);
  const steps = new Set((event?.timeline ?? []).map((s) => s.step));
  if (!steps.has('fence-revoke')) return undefined;
  const node = (await d.store.listNodes()).find((n) => n.name === state.oldPrimary);
  if (!node) return undefined;
  const [ingressRevoked, instanceState] = await Promise.all([
    d.fence.ingressClosed(node.securityGroupId).catch(() => undefined),
    d.fence.instanceState(node.instanceId).catch(() => undefined),
  ]);
  const postgresStopped = steps.has('fence-sever') || steps.has('fence-stop-instance-done') ? true : undefined;
  return describeFencedNode({
    node: node.name,
    instanceId: node.instanceId,
    ingressRevoked,
    postgresStopped,
    instanceState,
  });
}

/**
 * Invariant 1 when a run gives up after promoting (issue 13): the candidate it promoted (or may have: a Promote
 * that failed may still have ended recovery) must not stay a writer the lease does not name, so its ingress is
 * revoked before the run ends. Returns the notification's sentence, or undefined when no candidate got that far.
 */
async function fencePromotedCandidate(
  state: RunState,
  d: Deps,
  run: RunRecord | undefined,
): Promise<string | undefined> {
  const candidate = run?.candidate ?? state.candidate;
  if (state.input.mode !== 'failover' || state.epoch === undefined || !candidate) return undefined;
  if (run?.excluded?.includes(candidate)) return undefined;
  const event = await d.store.getEvent(state.epoch).catch(() => undefined);
  const reached = (event?.timeline ?? []).some(
    (s) => (s.step === 'promote' || s.step === 'promote-failed') && s.detail.includes(candidate),
  );
  if (!run?.promotedLsn && !state.promotedLsn && !reached) return undefined;
  // Replan's give-up fenced it already (its reason says so): nothing to add, and no claim that it was promoted.
  const fenced = (event?.timeline ?? []).some(
    (s) => s.step === 'replan-fence-revoke' && s.detail.startsWith(`${candidate}:`),
  );
  if (fenced && !run?.promotedLsn && !state.promotedLsn) return undefined;
  const node = (await d.store.listNodes()).find((n) => n.name === candidate);
  if (!node) return undefined;
  try {
    const { revokedRules } = await d.fence.revokeIngress(node, state.epoch);
    const closed = await d.fence.ingressClosed(node.securityGroupId).catch(() => undefined);
    const detail = `candidate ${candidate} was promoted by this run: ingress revoked (${revokedRules} rule(s)${closed === false ? ', but a rule still admits PostgreSQL: fence it by hand' : ''}); it is not the lease's primary`;
    await d.store.appendTimeline(state.epoch, { step: 'abort-fence-candidate', at: d.now(), detail });
    return detail;
  } catch (err) {
    const detail = `candidate ${candidate} was promoted by this run and its ingress could NOT be revoked (${(err as Error).message.slice(0, 200)}): fence it by hand before anything else`;
    await d.store
      .appendTimeline(state.epoch, { step: 'abort-fence-candidate-failed', at: d.now(), detail })
      .catch(() => undefined);
    return detail;
  }
}

/**
 * Every failure path of a run ends here: the lease goes to needs-attention
 * with the reason (nothing automatic happens until an operator resumes), the
 * history records it, the needs-attention metric and a notification go out.
 * Only the holder aborts, only its own in-flight run: a stale or stranger's
 * abort (or one after the run committed) is skipped by the wrapper with nothing
 * changed, and never throws (a newer run owns the cluster). A retry whose first
 * attempt wrote the lease completes the history and notification.
 */
export const handler = task(
  'abort',
  { needs: ['epoch'], policy: 'abort', retryOf: 'aborted' },
  async (state, d, ev, ctx) => {
    const epoch = state.epoch;
    // Before the run ends: a promoted candidate is fenced while this run still holds the epoch.
    const candidateFence = await fencePromotedCandidate(state, d, ctx.lease?.run).catch(() => undefined);
    const reason = readableReason(state.error, {
      mode: state.input.mode,
      epoch,
      ...(state.oldPrimary ? { oldPrimary: state.oldPrimary } : {}),
      ...(state.candidate ? { candidate: state.candidate } : {}),
    }).slice(0, 900);
    const t = await d.store.transitionLease(
      (l) => abortLease(l, { epoch, holder: ev.executionName, reason, now: d.now() }),
      () => ({
        event: {
          epoch,
          fields: { outcome: 'aborted', reason, ...(state.candidate ? { candidate: state.candidate } : {}) },
        },
      }),
    );
    if (!t.ok) {
      d.log.warn('abort skipped', { reason: t.reason, epoch });
      return state;
    }
    await d.store.appendTimeline(epoch, { step: 'abort', at: t.lease.updatedAt, detail: reason });
    await d.metrics.needsAttention();
    const fenced = await fencedNodeCondition(state, d).catch(() => undefined);
    await d.notify(
      `pgquorum ${d.config.PGQ_CLUSTER}: needs attention`,
      (fenced ? `${reason}\nFenced node: ${fenced}.` : reason) +
        (candidateFence ? `\nCandidate: ${candidateFence}.` : ''),
    );
    d.log.warn('run aborted', { reason, epoch });
    return state;
  },
);

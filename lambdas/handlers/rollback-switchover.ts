import { FatalError, isRetriable, PgqError, RetriableError } from '../core/errors';
import { readCause } from '../core/readable-reason';
import { decideSwitchoverFailure, rollbackRestartOutcome } from '../core/switchover-rollback';
import type { ProbeResult } from '../ports/postgres-port';
import type { RegisteredNode } from '../ports/store-port';
import { endpointOf, findNode } from './cluster-view';
import type { Deps } from './deps';
import { heldRun, record, task } from './task';

/** How long the restarted old primary gets to answer as a primary after the host command returned (ms). @default 15000 */
export const ROLLBACK_WRITABLE_TIMEOUT_MS = 15000;

/** Probes until the node answers as a primary, or the bound passes; returns the last probe. */
async function waitPrimary(d: Deps, node: RegisteredNode, timeoutMs: number): Promise<ProbeResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await d.pg.probe(endpointOf(node));
    if ((p.ok && p.role === 'primary') || Date.now() > deadline) return p;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Switchover, when StopOldPrimary, WaitForReplay or PromoteTarget failed
 * (invariant 9): core decides from the run's record and a fresh probe of the
 * target whether a rollback is safe; if so the target is fenced when a
 * promotion may still complete, the old primary is started again as the
 * primary through the host command and proven writable (pg_is_in_recovery()
 * is false). Records and lease follow in FinishRollback, outside the VPC
 * (Route 53). Idempotent: a started primary is success, a fence is kept; a
 * retry after the run recorded its rollback returns at once. Any refusal goes
 * to Abort with a sentence naming the nodes and the next command.
 */
export const handler = task(
  'rollback-switchover',
  { needs: ['epoch', 'candidate'], policy: 'holder', requires: ['candidate'], retryOf: 'rolled-back' },
  async (state, d, _ev, ctx) => {
    if (ctx.verdict.verdict === 'retried') return state;
    const run = heldRun(ctx);
    const epoch = state.epoch;
    const nodes = await d.store.listNodes();
    const old = findNode(nodes, run.oldPrimary);
    const target = findNode(nodes, state.candidate);
    const tp = await d.pg.probe(endpointOf(target));
    const decision = decideSwitchoverFailure({
      run,
      failedStep: state.rollbackFrom ?? 'WaitForReplay',
      cause: readCause(state.error, { fallback: 'unknown error' }).message,
      target: { name: target.name, reachable: tp.ok, role: tp.ok ? (tp.role ?? 'unknown') : 'unknown' },
    });
    if (decision.action === 'needs-attention') throw new FatalError(decision.reason);
    await record(d, state, 'rollback-decided', decision.reason);
    if (decision.fenceTarget) {
      const r = await d.fence.revokeIngress(target, epoch);
      await record(d, state, 'rollback-fence-target', `${target.name}: ${r.revokedRules} ingress rule(s) revoked`);
    }
    let hostError: string | undefined;
    let hostErr: unknown;
    try {
      await d.host.run(old, 'start-as-primary', {}, { timeoutMs: 60000 });
    } catch (err) {
      hostErr = err;
      hostError = `${(err as Error).name}: ${(err as Error).message}`;
    }
    const op = await waitPrimary(d, old, hostErr ? 2000 : ROLLBACK_WRITABLE_TIMEOUT_MS);
    const outcome = rollbackRestartOutcome({
      oldPrimary: old.name,
      target: target.name,
      hostError,
      probe: { ok: op.ok, role: op.role, error: op.error },
    });
    if (!outcome.ok) {
      // A transient host error (SSM delivery, a timeout) is retried by the state machine: the script is idempotent.
      const retriable = hostErr !== undefined && (!(hostErr instanceof PgqError) || isRetriable(hostErr));
      throw retriable ? new RetriableError(outcome.reason) : new FatalError(outcome.reason);
    }
    await record(
      d,
      state,
      'rollback-restart',
      `${old.name} is the primary again (pg_is_in_recovery() = false, timeline ${op.timeline ?? '?'})`,
    );
    return {
      ...state,
      rollback: { reason: decision.reason, targetFenced: decision.fenceTarget, oldPrimaryTimeline: op.timeline },
    };
  },
);

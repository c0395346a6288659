/**
 * The pre-checks of an operator run, mirroring the state machine's
 * ValidateInput (lambdas/handlers/validate-input.ts) with the same core rules,
 * so a refused command changes nothing and says why in one line. The state
 * machine checks again: these are a courtesy, not the guard.
 */
import { selectCandidate, selectSwitchoverTarget } from '../lambdas/core/candidate';
import { automaticFailoverGuard } from '../lambdas/core/guards';
import { acquireLease } from '../lambdas/core/lease';
import type { ControllerSettings } from '../lambdas/core/settings';
import type { ClusterView, Lease, Mode } from '../lambdas/core/types';
import { RefusedError, UsageError } from './errors';

/** What the operator asked for. */
export interface RunRequest {
  readonly mode: Mode;
  readonly target?: string;
  readonly force: boolean;
}

/** A node name the registry knows, or a usage error that lists the known ones. */
export function checkNode(name: string, nodes: readonly { name: string }[]): void {
  if (!nodes.some((n) => n.name === name)) {
    throw new UsageError(`unknown node '${name}' (nodes: ${nodes.map((n) => n.name).join(', ') || 'none registered'})`);
  }
}

/** `failover` is always an operator's forced promotion of a named node: both flags, before anything is read. */
export function checkFailoverFlags(o: { to?: string; force?: boolean }): void {
  if (!o.to) throw new UsageError('failover needs --to NODE (and --force): name the node to promote');
  if (!o.force) throw new UsageError('failover --to NODE needs --force: it promotes without the probes’ quorum');
}

/** Rules that need only the lease and the registry (ValidateInput's first half). */
export function checkRunRequest(
  req: RunRequest,
  lease: Lease,
  nodes: readonly { name: string }[],
  settings: ControllerSettings,
  now: number,
): void {
  if (req.mode === 'failover') checkFailoverFlags({ to: req.target, force: req.force });
  if (req.target !== undefined) {
    checkNode(req.target, nodes);
    if (req.target === lease.primary) throw new UsageError(`${req.target} is already the primary`);
  }
  // acquireLease's refusal names the holder and whether its lease expired (then an operator must look).
  const take = acquireLease(lease, { mode: req.mode, holder: 'cli', now, durationMs: 1, reason: 'pre-check' });
  if (lease.state === 'failing-over' || lease.state === 'switching-over') {
    throw new RefusedError(`${req.mode} refused: ${take.ok ? `${lease.state} in progress` : take.reason}`);
  }
  if (req.mode === 'failover') {
    const g = automaticFailoverGuard(lease, now, settings);
    // A forced failover may override anti-flap, never pause or needs-attention (as ValidateInput).
    if (!g.allow && !(req.force && g.escalate)) throw new RefusedError(`failover refused: ${g.reason}`);
  } else if (lease.state === 'needs-attention') {
    throw new RefusedError(`switchover refused: cluster needs attention (${lease.reason}); resume it first`);
  }
  if (!take.ok) throw new RefusedError(`${req.mode} refused: ${take.reason}`);
}

/**
 * Rules that need a fresh view of the nodes (ValidateInput's second half for
 * switchover; SelectCandidate's forced pick for failover). Returns the node
 * that would be promoted.
 */
export function checkRunView(req: RunRequest, view: ClusterView, settings: ControllerSettings): string {
  if (req.mode === 'switchover') {
    const primary = view.nodes.find((n) => n.name === view.primary);
    if (primary?.role !== 'primary') {
      throw new RefusedError(
        `switchover refused: it needs a healthy primary, and ${view.primary} is ${primary?.role ?? 'unknown'}`,
      );
    }
    const pick = selectSwitchoverTarget(view, settings, req.target);
    if (pick.action !== 'promote') throw new RefusedError(`switchover refused: ${pick.reason}`);
    return pick.candidate;
  }
  const pick = selectCandidate({
    view: { ...view, nodes: view.nodes.filter((n) => n.name === req.target || n.name === view.primary) },
    oldPrimary: view.primary,
    settings,
    force: true,
  });
  if (pick.action !== 'promote') throw new RefusedError(`failover refused: ${pick.reason}`);
  return pick.candidate;
}

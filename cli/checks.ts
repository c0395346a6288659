/**
 * The pre-checks of an operator run: the core's own (lambdas/core/run-checks.ts,
 * which ValidateInput runs too), so a refused command changes nothing and says
 * why in one line. The state machine checks again: these are a courtesy, not the guard.
 */
import { checkRunRequest as runPreChecks, checkRunView as runViewChecks } from '../lambdas/core/run-checks';
import type { ControllerSettings } from '../lambdas/core/settings';
import type { ClusterView, Lease, Mode } from '../lambdas/core/types';
import { RefusedError, UsageError } from './errors';

/** What the operator asked for. */
export interface RunRequest {
  readonly mode: Mode;
  readonly target?: string;
  readonly force: boolean;
  readonly reason?: string;
}

/** A node name the registry knows, or a usage error that lists the known ones. */
export function checkNode(name: string, nodes: readonly { name: string }[]): void {
  if (!nodes.some((n) => n.name === name)) {
    throw new UsageError(`unknown node '${name}' (nodes: ${nodes.map((n) => n.name).join(', ') || 'none registered'})`);
  }
}

/**
 * `--to ""` (an unset shell variable) names no node: commander hands over '', which must never read as
 * "no --to, let the controller pick". Checked before anything is read.
 */
export function checkToFlag(o: { to?: string }): void {
  if (o.to !== undefined && o.to.trim() === '') {
    throw new UsageError(`unknown node '${o.to}': --to needs a node name (is the shell variable set?)`);
  }
}

/** `failover` is always an operator's forced promotion of a named node: both flags, before anything is read. */
export function checkFailoverFlags(o: { to?: string; force?: boolean }): void {
  checkToFlag(o);
  if (!o.to) throw new UsageError('failover needs --to NODE (and --force): name the node to promote');
  if (!o.force) throw new UsageError('failover --to NODE needs --force: it promotes without the probes’ quorum');
}

/** Rules that need only the lease and the registry: the core's run pre-checks, as ValidateInput runs them. */
export function checkRunRequest(
  req: RunRequest,
  lease: Lease,
  nodes: readonly { name: string }[],
  settings: ControllerSettings,
  now: number,
): void {
  if (req.mode === 'failover') checkFailoverFlags({ to: req.target, force: req.force });
  // The CLI always names its own cluster: the cluster rule is ValidateInput's guard against a mis-addressed start.
  const r = runPreChecks({ ...req, cluster: 'cli' }, { cluster: 'cli', lease, nodes, settings, now });
  if (!r.ok) throw r.kind === 'usage' ? new UsageError(r.reason) : new RefusedError(r.reason);
}

/**
 * Rules that need a fresh view of the nodes (ValidateInput's second half).
 * Returns the node that would be promoted.
 */
export function checkRunView(req: RunRequest, view: ClusterView, settings: ControllerSettings): string {
  const r = runViewChecks({ ...req, cluster: view.cluster }, view, settings);
  if (!r.ok) throw new RefusedError(r.reason);
  return r.candidate ?? req.target ?? view.primary;
}

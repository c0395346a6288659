import { checkOperatorTarget, selectSwitchoverTarget } from './candidate';
import { automaticFailoverGuard } from './guards';
import { acquireLease } from './lease';
import type { ControllerSettings } from './settings';
import type { ClusterView, Lease, Mode } from './types';

/** The longest reason a run accepts: it is stored in the lease and twice in the event (items stop at 400 KB). */
export const REASON_MAX = 500;
/** Printable text: no C0/C1 control characters (newlines, tabs, ESC, DEL), which would forge terminal output. */
export const PRINTABLE = /^\P{Cc}*$/u;

/** A reason the controller composed itself, made acceptable as run input (control characters to spaces, bounded). */
export function asReason(text: string): string {
  const clean = text.replace(/\p{Cc}+/gu, ' ').trim() || 'unspecified';
  return clean.length <= REASON_MAX ? clean : `${clean.slice(0, REASON_MAX - 1)}…`;
}

/** What an operator (or a probe) asks the state machine to do. */
export interface RunRequest {
  readonly mode: Mode;
  readonly cluster: string;
  readonly target?: string;
  readonly force?: boolean;
  readonly reason?: string;
}

/**
 * A pre-check's verdict: `usage` when the request itself is wrong (a flag, a
 * name), `refused` when the cluster's state forbids it now.
 */
export type RunCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly kind: 'usage' | 'refused'; readonly reason: string };

/** An operator's `failover --to NODE --force` (the pre-checks above refuse `force` without a target). */
export function forcedFailover(req: RunRequest): boolean {
  return req.mode === 'failover' && req.force === true && req.target !== undefined;
}

const usage = (reason: string): RunCheck => ({ ok: false, kind: 'usage', reason });
const refused = (reason: string): RunCheck => ({ ok: false, kind: 'refused', reason });

/**
 * The run pre-checks that need only the lease and the registry: used by
 * ValidateInput, again by AcquireLease (a direct invoke must not skip them),
 * and by the CLI before it starts anything. A refused run changes nothing.
 */
export function checkRunRequest(
  req: RunRequest,
  ctx: {
    /** The cluster this controller manages. */
    readonly cluster: string;
    readonly lease: Lease;
    readonly nodes: readonly { readonly name: string }[];
    readonly settings: ControllerSettings;
    readonly now: number;
  },
): RunCheck {
  const { lease, nodes } = ctx;
  if (req.reason !== undefined && req.reason.length > REASON_MAX) {
    return usage(`reason: at most ${REASON_MAX} characters (got ${req.reason.length})`);
  }
  if (req.reason !== undefined && !PRINTABLE.test(req.reason)) {
    return usage('reason: must be printable: no newlines, tabs or control characters');
  }
  if (req.cluster !== ctx.cluster)
    return usage(`this controller manages cluster '${ctx.cluster}', not '${req.cluster}'`);
  // A forced run skips the probes' quorum: it must say which node it promotes.
  if (req.force && !req.target) return usage(`a forced ${req.mode} needs a target: name the node to promote`);
  if (req.target !== undefined) {
    if (!nodes.some((n) => n.name === req.target)) {
      return usage(
        `unknown target '${req.target}' (nodes: ${nodes.map((n) => n.name).join(', ') || 'none registered'})`,
      );
    }
    if (req.target === lease.primary) return usage(`target ${req.target} is already the primary`);
    if (req.mode === 'failover' && !req.force) return usage('failover --to NODE needs --force');
  }
  // acquireLease's refusal names the holder and whether its lease expired (then an operator must look).
  const take = acquireLease(lease, {
    mode: req.mode,
    holder: 'pre-check',
    now: ctx.now,
    durationMs: 1,
    reason: 'pre-check',
    forced: forcedFailover(req),
  });
  if (lease.state === 'failing-over' || lease.state === 'switching-over') {
    return refused(`${req.mode} refused: ${take.ok ? `${lease.state} in progress` : take.reason}`);
  }
  if (req.mode === 'failover') {
    const g = automaticFailoverGuard(lease, ctx.now, ctx.settings);
    // An operator's forced failover may override anti-flap and pause (nothing automatic runs then), never
    // needs-attention: `resume --primary` first, which leaves the lease paused while that primary is down.
    if (!g.allow && !(forcedFailover(req) && (g.escalate || lease.state === 'paused'))) {
      return refused(`failover refused: ${g.reason}`);
    }
  } else if (lease.state === 'needs-attention') {
    return refused(`switchover refused: cluster needs attention (${lease.reason}); resume it first`);
  }
  if (!take.ok) return refused(`${req.mode} refused: ${take.reason}`);
  return { ok: true };
}

/** A view check's verdict: the node that would be promoted (none for an automatic failover: SelectCandidate picks). */
export type RunViewCheck =
  | { readonly ok: true; readonly candidate: string | null }
  | { readonly ok: false; readonly reason: string };

/**
 * The pre-checks that need a fresh view of the nodes: a switchover needs a
 * healthy primary and a target that is streaming and caught up; a forced
 * failover's target must be eligible, so an ineligible one is refused before
 * the lease is taken rather than aborting the run afterwards.
 */
export function checkRunView(req: RunRequest, view: ClusterView, settings: ControllerSettings): RunViewCheck {
  if (req.mode === 'switchover') {
    const primary = view.nodes.find((n) => n.name === view.primary);
    if (primary?.role !== 'primary') {
      return {
        ok: false,
        reason: `switchover refused: it needs a healthy primary, and ${view.primary} is ${primary?.role ?? 'unknown'}`,
      };
    }
    const pick = selectSwitchoverTarget(view, settings, req.target);
    return pick.action === 'promote'
      ? { ok: true, candidate: pick.candidate }
      : { ok: false, reason: `switchover refused: ${pick.reason}` };
  }
  if (!req.target) return { ok: true, candidate: null };
  const pick = checkOperatorTarget({ view, oldPrimary: view.primary, settings }, req.target);
  return pick.action === 'promote'
    ? { ok: true, candidate: pick.candidate }
    : { ok: false, reason: `failover refused: ${pick.reason}` };
}

import { NEEDS_RECLONE } from './commit-health';
import { compareLsn, lsnDiff } from './lsn';
import { majority } from './quorum';
import type { ControllerSettings } from './settings';
import type { ClusterView, NodeView } from './types';

/** What every eligibility rule sees besides the node. */
export interface EligibilityContext {
  readonly view: ClusterView;
  readonly oldPrimary: string;
  readonly settings: ControllerSettings;
  /** Operator override of the lag rule (never of the others). */
  readonly force: boolean;
  /** Candidates this run already gave up on and fenced (RunRecord.excluded). @default [] */
  readonly excluded?: readonly string[];
  /**
   * Timelines besides the old primary's that a replica may be on: a given-up candidate's new timeline, which a
   * replica re-pointed to it before it failed now follows (it holds everything that candidate wrote). @default []
   */
  readonly followedTimelines?: readonly number[];
  /**
   * The instant "streaming within streamingGraceMs" is judged at. A re-plan judges as of its run's start: the old
   * primary's death stopped every stream before that, and the run's own steps (fence, the failed candidate) may
   * well outlast the grace. @default view.now
   */
  readonly streamingAsOf?: number;
}

/** An eligibility rule: the reason a node cannot be promoted, or null. */
export type EligibilityRule = (node: NodeView, ctx: EligibilityContext) => string | null;

/** The old primary is the node being replaced. */
export const isOldPrimary: EligibilityRule = (n, c) => (n.name === c.oldPrimary ? 'is the old primary' : null);

/** How the `unreachable` rule's reason begins: refusalWorthAnotherLook recognises it by this, so both use it. */
export const UNREACHABLE_REASON = 'unreachable';

/** The controller must reach a node (from a majority of probe AZs) to promote it. */
export const unreachable: EligibilityRule = (n, c) => {
  const reached = c.view.probeAzs.filter((az) => n.reachableFrom[az]).length;
  const need = majority(c.view.probeAzs.length);
  return reached < need
    ? `${UNREACHABLE_REASON} (reached from ${reached} of ${c.view.probeAzs.length} AZs, ${need} needed)`
    : null;
};

/** Only a node in recovery with a receive position can take over. */
export const notReplica: EligibilityRule = (n) =>
  n.role !== 'replica' ? `is not a replica (role ${n.role})` : n.receiveLsn === null ? 'has no receive LSN' : null;

/**
 * A dead primary stops every stream, so "streaming" means streaming now or
 * within streamingGraceMs before now.
 */
export const notStreaming: EligibilityRule = (n, c) => {
  if (n.streaming) return null;
  if (n.lastStreamedAt === null) return 'not streaming (never seen streaming)';
  // The earliest of: the run's own anchor (a re-plan), the old primary's last sighting (an operator's forced
  // failover after a give-up), now.
  const asOf = Math.min(c.streamingAsOf ?? c.view.now, c.view.primaryLastSeenAt ?? c.view.now, c.view.now);
  const ago = asOf - n.lastStreamedAt;
  return ago > c.settings.streamingGraceMs ? `not streaming (last streamed ${ago} ms ago)` : null;
};

/** Operators exclude nodes with the noFailover tag (say, a reporting replica). */
export const taggedNoFailover: EligibilityRule = (n) => (n.tags.noFailover ? 'tagged noFailover' : null);

/** A replica on another timeline than the old primary followed something else. */
export const wrongTimeline: EligibilityRule = (n, c) => {
  const old = c.view.nodes.find((x) => x.name === c.oldPrimary);
  if (old?.timeline == null || n.timeline == null) return null;
  if (c.followedTimelines?.includes(n.timeline)) return null;
  return n.timeline !== old.timeline ? `on timeline ${n.timeline}, the old primary is on ${old.timeline}` : null;
};

/** Bytes the node is behind the old primary's last seen LSN, or null when either is unknown. */
export function lagBytes(n: NodeView, view: ClusterView): bigint | null {
  if (!view.primaryLastSeenLsn || !n.receiveLsn) return null;
  const d = lsnDiff(view.primaryLastSeenLsn, n.receiveLsn);
  return d > 0n ? d : 0n;
}

/** Invariant 4: in async mode a lagging candidate needs an operator's force. */
export const lagsTooMuch: EligibilityRule = (n, c) => {
  if (c.settings.replicationMode !== 'async' || c.force) return null;
  const lag = lagBytes(n, c.view);
  if (lag === null) return 'lag unknown in async mode (old primary LSN not seen)';
  return lag > BigInt(c.settings.maxLagBytes)
    ? `lags ${lag} bytes, more than maxLagBytes ${c.settings.maxLagBytes}`
    : null;
};

/** A candidate this run already gave up on (it failed after it was chosen, and Replan fenced it). */
export const excludedByRun: EligibilityRule = (n, c) =>
  c.excluded?.includes(n.name) ? 'given up by this run (failed as its candidate, fenced)' : null;

/**
 * A candidate an earlier run gave up on (registry `needs-reclone`) may have promoted onto a timeline ID the next
 * candidate also took, with another history: its data is not the cluster's until a rejoin re-clones it.
 */
export const markedForReclone: EligibilityRule = (n) =>
  n.registryStatus === NEEDS_RECLONE
    ? `marked ${NEEDS_RECLONE} (given up as an earlier run's candidate): \`npx pgquorum rejoin ${n.name}\` first`
    : null;

/** Every rule, in the order reasons are reported. */
export const ELIGIBILITY_RULES: readonly EligibilityRule[] = [
  isOldPrimary,
  notReplica,
  unreachable,
  notStreaming,
  taggedNoFailover,
  wrongTimeline,
  lagsTooMuch,
  excludedByRun,
  markedForReclone,
];

/** How a promote decision chose its node. */
export type CandidateKind = 'best' | 'adopted' | 'operator';
/**
 * The old primary's WAL position a switchover target is measured against: its fresh current LSN when the
 * view has one, else the last LSN the probes saw.
 */
function primaryPosition(c: EligibilityContext): string | null {
  const old = c.view.nodes.find((x) => x.name === c.oldPrimary);
  return old?.currentLsn ?? c.view.primaryLastSeenLsn;
}

/**
 * Switchover: a target whose replay is paused receives WAL but applies none, so WaitForReplay could only
 * time out after the old primary stopped. Refused before anything stops.
 */
export const replayPaused: EligibilityRule = (n) =>
  n.replayPaused ? 'has WAL replay paused (pg_is_wal_replay_paused(); run pg_wal_replay_resume() on it)' : null;

/**
 * Switchover: received WAL is not enough, the target must replay past the old primary's final checkpoint
 * before it is promoted. A target further behind on replay than switchoverMaxReplayLagBytes (long queries
 * on a hot standby, max_standby_streaming_delay, slow I/O) would hold writes down while it catches up, and
 * might not within the WaitForReplay bound. Applies in every replication mode.
 */
export const replayLagsTooMuch: EligibilityRule = (n, c) => {
  const at = primaryPosition(c);
  if (!at) return 'replay lag unknown (the primary’s current LSN was not seen)';
  if (!n.replayLsn) return 'replay lag unknown (no replay LSN)';
  const d = lsnDiff(at, n.replayLsn);
  const lag = d > 0n ? d : 0n;
  return lag > BigInt(c.settings.switchoverMaxReplayLagBytes)
    ? `replay is ${lag} bytes behind the primary's current LSN ${at}, more than switchoverMaxReplayLagBytes ${c.settings.switchoverMaxReplayLagBytes}`
    : null;
};

/** A planned switchover's target rules: every eligibility rule, then replay (paused, lag). */
export const SWITCHOVER_RULES: readonly EligibilityRule[] = [...ELIGIBILITY_RULES, replayPaused, replayLagsTooMuch];

/** The outcome of candidate selection. */
export type CandidateDecision =
  | {
      readonly action: 'promote';
      /**
       * Why this node: the most advanced eligible replica (`best`), the previous run's own promotion finished
       * (`adopted`), or the operator's checked choice (`operator`).
       */
      readonly kind: CandidateKind;
      readonly candidate: string;
      readonly receiveLsn: string;
      readonly reason: string;
      readonly rejected: Readonly<Record<string, readonly string[]>>;
    }
  | {
      readonly action: 'no-candidate';
      readonly reason: string;
      readonly rejected: Readonly<Record<string, readonly string[]>>;
    };

/** Orders eligible nodes best first: highest received LSN, then highest replayed, then name (stable). */
export function byPreference(a: NodeView, b: NodeView): number {
  const r = compareLsn(b.receiveLsn!, a.receiveLsn!);
  if (r !== 0) return r;
  if (a.replayLsn && b.replayLsn) {
    const p = compareLsn(b.replayLsn, a.replayLsn);
    if (p !== 0) return p;
  }
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Invariant 4: the reachable, eligible replica with the highest received LSN; or every reason none qualifies. */
export function selectCandidate(
  ctx: EligibilityContext,
  rules: readonly EligibilityRule[] = ELIGIBILITY_RULES,
): CandidateDecision {
  const rejected: Record<string, string[]> = {};
  const eligible: NodeView[] = [];
  for (const n of ctx.view.nodes) {
    const reasons = rules.map((r) => r(n, ctx)).filter((x): x is string => x !== null);
    if (reasons.length) rejected[n.name] = reasons;
    else eligible.push(n);
  }
  if (!eligible.length) {
    const list = Object.entries(rejected)
      .map(([k, v]) => `${k}: ${v.join(', ')}`)
      .join('; ');
    return { action: 'no-candidate', reason: `no eligible candidate (${list})`, rejected };
  }
  const [best, ...rest] = [...eligible].sort(byPreference);
  const lag = lagBytes(best!, ctx.view);
  const others = rest.length ? `; ahead of ${rest.map((n) => `${n.name} at ${n.receiveLsn}`).join(', ')}` : '';
  return {
    action: 'promote',
    kind: 'best',
    candidate: best!.name,
    receiveLsn: best!.receiveLsn!,
    reason: `${best!.name} has the highest received LSN ${best!.receiveLsn}${lag !== null ? `, ${lag} bytes behind the old primary` : ''}${others}`,
    rejected,
  };
}

/**
 * Planned switchover target: the named replica must exist and qualify now
 * (streaming, reachable, within maxLagBytes regardless of mode: a switchover
 * waits for it to catch up, so a far-behind target means a long write pause;
 * replay not paused and within switchoverMaxReplayLagBytes of the primary);
 * with no name, the best eligible replica is chosen.
 */
export function selectSwitchoverTarget(
  view: ClusterView,
  settings: ControllerSettings,
  target?: string,
): CandidateDecision {
  const strict: ControllerSettings = { ...settings, replicationMode: 'async', streamingGraceMs: 0 };
  const ctx: EligibilityContext = { view, oldPrimary: view.primary, settings: strict, force: false };
  if (target !== undefined) {
    const node = view.nodes.find((n) => n.name === target);
    if (!node) {
      return {
        action: 'no-candidate',
        reason: `unknown target '${target}' (nodes: ${view.nodes.map((n) => n.name).join(', ')})`,
        rejected: {},
      };
    }
    const reasons = SWITCHOVER_RULES.map((r) => r(node, ctx)).filter((x): x is string => x !== null);
    if (reasons.length) {
      return {
        action: 'no-candidate',
        reason: `target ${target} is not eligible: ${reasons.join(', ')}`,
        rejected: { [target]: reasons },
      };
    }
    return {
      action: 'promote',
      kind: 'operator',
      candidate: target,
      receiveLsn: node.receiveLsn!,
      reason: `operator chose ${target}`,
      rejected: {},
    };
  }
  return selectCandidate(ctx, SWITCHOVER_RULES);
}

/** The previous run, when it aborted after choosing a candidate (from the history). */
export interface InterruptedRun {
  readonly epoch: number;
  readonly candidate: string;
}

/**
 * Invariant 1 (one writer) before invariant 4 (the most advanced replica): when
 * a node other than the old primary is already a primary, a failover must not
 * promote a second one. The one case it may finish is the previous run's own
 * promotion: a run that aborted after pg_promote was sent (the call timed out
 * and completed later, or a later step failed) leaves its candidate writing on
 * the new timeline with the old primary fenced; the rerun adopts it (promote
 * is idempotent). Any other primary needs an operator. Null when no node but
 * the old primary is primary: the ordinary rules decide.
 */
export function existingPrimaryDecision(
  view: ClusterView,
  oldPrimary: string,
  interrupted: InterruptedRun | undefined,
  /** This run's given-up candidates: fenced by its Replan, so neither adopted nor counted as a second writer. */
  excluded: readonly string[] = [],
): CandidateDecision | null {
  const primaries = view.nodes.filter(
    (n) => n.name !== oldPrimary && n.role === 'primary' && !excluded.includes(n.name),
  );
  if (!primaries.length) return null;
  const names = primaries.map((n) => n.name).join(', ');
  if (primaries.length > 1) {
    return {
      action: 'no-candidate',
      reason: `refusing to choose: ${names} are all primaries besides ${oldPrimary}; an operator must decide which history to keep`,
      rejected: {},
    };
  }
  const p = primaries[0]!;
  if (!interrupted || interrupted.candidate !== p.name) {
    return {
      action: 'no-candidate',
      reason: `refusing to promote a second primary: ${p.name} is already primary (timeline ${p.timeline ?? '?'})${
        interrupted ? `, but the run at epoch ${interrupted.epoch} chose ${interrupted.candidate}` : ''
      }; an operator must decide`,
      rejected: {},
    };
  }
  return {
    action: 'promote',
    kind: 'adopted',
    candidate: p.name,
    receiveLsn: p.currentLsn ?? '0/0',
    reason: `adopting ${p.name}: the run at epoch ${interrupted.epoch} promoted it before it aborted (timeline ${
      p.timeline ?? '?'
    }); promoting another node would fork the history`,
    rejected: {},
  };
}

/** Everything SelectCandidate decides from: the run's request and record, and one view of the cluster. */
export interface CandidateRequest {
  readonly mode: 'failover' | 'switchover';
  /** The cluster as the controller sees it now, with the old primary's last seen LSN. */
  readonly view: ClusterView;
  readonly oldPrimary: string;
  readonly settings: ControllerSettings;
  /** The operator's `--to`, when given. */
  readonly target?: string;
  /** Operator override of the lag rule. @default false */
  readonly force?: boolean;
  /** The candidates this run gave up on (RunRecord.excluded). @default [] */
  readonly excluded?: readonly string[];
  /** Timelines of given-up candidates that were promoted (EligibilityContext.followedTimelines). @default [] */
  readonly followedTimelines?: readonly number[];
  /** When the run started: a re-plan (something excluded) judges streaming as of then. */
  readonly startedAt?: number;
  /** Failover: the previous run, when it aborted after choosing a candidate. */
  readonly interrupted?: InterruptedRun;
}

/**
 * SelectCandidate's one decision (invariants 1 and 4). A switchover takes its checked target or the best
 * replica. A failover never makes a second primary: it adopts the previous run's own promotion, unless the
 * operator asked for another node, or refuses. Otherwise the most advanced eligible replica; an operator's
 * target other than that one is checked on its own, with the lag rule overridden (they chose what it costs).
 */
export function decideCandidate(r: CandidateRequest): CandidateDecision {
  if (r.mode === 'switchover') return selectSwitchoverTarget(r.view, r.settings, r.target);
  const excluded = r.excluded ?? [];
  const ctx = (view: ClusterView, force: boolean): EligibilityContext => ({
    view,
    oldPrimary: r.oldPrimary,
    settings: r.settings,
    force,
    excluded,
    followedTimelines: r.followedTimelines ?? [],
    ...(excluded.length && r.startedAt ? { streamingAsOf: r.startedAt } : {}),
  });
  const existing = existingPrimaryDecision(r.view, r.oldPrimary, r.interrupted, excluded);
  if (existing) {
    if (existing.action === 'promote' && r.target && r.target !== existing.candidate) {
      return { action: 'no-candidate', reason: `${existing.reason}; not ${r.target} as asked`, rejected: {} };
    }
    return existing;
  }
  const best = selectCandidate(ctx(r.view, Boolean(r.force)));
  if (best.action !== 'promote' || !r.target || best.candidate === r.target) return best;
  const forced = checkOperatorTarget(ctx(r.view, true), r.target);
  return forced.action === 'promote'
    ? { ...forced, kind: 'operator', reason: `operator chose ${r.target} (${forced.reason})` }
    : forced;
}

/**
 * A failover target the operator named, checked on its own (ValidateInput before the lease, SelectCandidate
 * after): every eligibility rule but the lag one, which their `--force` overrides (they chose what it costs).
 */
export function checkOperatorTarget(ctx: Omit<EligibilityContext, 'force'>, target: string): CandidateDecision {
  const nodes = ctx.view.nodes.filter((n) => n.name === target || n.name === ctx.oldPrimary);
  return selectCandidate({ ...ctx, view: { ...ctx.view, nodes }, force: true });
}

/** What Promote sees of the run's replicas once the old primary's fence is proven (no more WAL can arrive). */
export interface PostFenceView {
  readonly candidate: string;
  /** The candidate's received LSN now; null when it does not answer as a replica (a retry after its promotion). */
  readonly candidateReceived: string | null;
  /** The run's other replicas that answered, with their received LSN (null: not known). */
  readonly others: readonly { readonly name: string; readonly received: string | null }[];
}

/**
 * Invariant 4, checked again after the fence. SelectCandidate reads LSNs before the fence, so an old primary
 * still serving clients (a pause that resumed, a partition that hid it from the probes only) can commit in
 * between with a standby's acknowledgement; in quorum-sync mode that standby need not be the candidate.
 * Promoting the candidate then would lose an acknowledged commit. Once the fence is proven the received LSNs
 * are final: the candidate must have received at least as much as every replica that answers. Returns null, or
 * why the candidate must be given up (one sentence naming both nodes and both LSNs).
 */
export function candidateBehindAfterFence(v: PostFenceView): string | null {
  if (v.candidateReceived === null) return null;
  const ahead = v.others
    .filter((o) => o.received !== null && compareLsn(o.received, v.candidateReceived!) > 0)
    .sort((a, b) => compareLsn(b.received!, a.received!));
  const best = ahead[0];
  if (!best) return null;
  return `${v.candidate} received ${v.candidateReceived} but ${best.name} received ${best.received} (${lsnDiff(best.received!, v.candidateReceived)} bytes more) by the time the old primary was fenced: promoting ${v.candidate} could lose commits ${best.name} acknowledged`;
}

/**
 * Whether a refusal may be the controller's own look failing rather than the cluster: some replica that is neither
 * the old primary nor given up was refused as unreachable from the task (a probe that timed out on a busy network
 * or a slow TLS handshake looks exactly like that). SelectCandidate then throws a retriable error and the state
 * machine's Retry looks again (after 1 s, then 2 s): nothing was fenced yet, so looking again changes nothing,
 * while a refusal aborts the run into needs-attention. Null when the refusal stands, else the reason to look again.
 */
export function refusalWorthAnotherLook(
  decision: CandidateDecision,
  oldPrimary: string,
  excluded: readonly string[],
): string | null {
  if (decision.action !== 'no-candidate') return null;
  const unreached = Object.entries(decision.rejected)
    .filter(
      ([n, why]) => n !== oldPrimary && !excluded.includes(n) && why.some((w) => w.startsWith(UNREACHABLE_REASON)),
    )
    .map(([n]) => n);
  return unreached.length
    ? `${unreached.join(', ')} not reached from the controller (looked at again before the run gives up)`
    : null;
}

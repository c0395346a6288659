import { NEEDS_RECLONE } from './commit-health';
/** What Replan knows when a failover's candidate failed after SelectCandidate chose it. */
export interface ReplanInput {
  /** The candidate that failed. */
  readonly candidate: string;
  readonly oldPrimary: string;
  /** Candidates the run already gave up on (RunRecord.excluded), before this one. */
  readonly excluded: readonly string[];
  /** Every registered node. */
  readonly nodes: readonly string[];
  /** settings.maxReplans. */
  readonly maxReplans: number;
  /** The failed step's error, one line. */
  readonly failure: string;
}

/** Re-plan (fence the candidate, choose again without it), or give up to needs-attention; with the reason. */
export type ReplanDecision =
  | { readonly action: 'replan'; readonly excluded: readonly string[]; readonly reason: string }
  | { readonly action: 'give-up'; readonly excluded: readonly string[]; readonly reason: string };

/**
 * The commands an operator runs next when the run gives up: they pick and verify the writer themselves. From
 * needs-attention a forced failover is refused until `resume` names a primary; with the old primary down that
 * leaves the lease paused, where an operator's forced failover is allowed (nothing automatic runs to race it).
 */
function nextCommand(excluded: readonly string[], oldPrimary: string): string {
  return `check ${excluded.join(', ')} (fenced: ingress revoked), then \`npx pgquorum resume --primary ${oldPrimary}\` and \`npx pgquorum failover --to NODE --force\` to a healthy replica`;
}

/**
 * Invariant 1 before availability: a failed candidate is always given up (fenced, then excluded), and the run
 * chooses again only within `maxReplans` re-plans and while a node remains that is neither the old primary nor
 * excluded (whether that node qualifies is SelectCandidate's to say, with its own reasons). Otherwise the run
 * ends in needs-attention naming every given-up node and the next command.
 */
export function replanDecision(i: ReplanInput): ReplanDecision {
  const excluded = i.excluded.includes(i.candidate) ? [...i.excluded] : [...i.excluded, i.candidate];
  const failed = `candidate ${i.candidate} failed (${i.failure})`;
  if (excluded.length > i.maxReplans) {
    return {
      action: 'give-up',
      excluded,
      reason: `${failed}; ${excluded.length} candidate(s) given up (${excluded.join(', ')}), maxReplans ${i.maxReplans} reached: needs attention; ${nextCommand(excluded, i.oldPrimary)}`,
    };
  }
  const remaining = i.nodes.filter((n) => n !== i.oldPrimary && !excluded.includes(n));
  if (!remaining.length) {
    return {
      action: 'give-up',
      excluded,
      reason: `${failed}; no other node to choose (old primary ${i.oldPrimary}, given up: ${excluded.join(', ')}): needs attention; ${nextCommand(excluded, i.oldPrimary)}`,
    };
  }
  return {
    action: 'replan',
    excluded,
    reason: `${failed}: fenced and given up, choosing again among ${remaining.join(', ')} (re-plan ${excluded.length} of at most ${i.maxReplans})`,
  };
}

/** What a step saw of the promoted candidate: a probe's answer (the PostgreSQL port's ProbeResult fields). */
export interface NewPrimarySeen {
  readonly ok: boolean;
  readonly role?: 'primary' | 'replica';
  readonly error?: string;
}

/**
 * Whether the promoted candidate is lost, with the reason (null while it answers as a writable primary). A node
 * that does not answer, answers as a replica or cannot write its heartbeat (a primary whose local commit fails
 * serves no writes) is the run's candidate failing: the step throws CandidateFailedError and Replan chooses again,
 * which is only possible before the commit. `during` says when, as the end of the sentence ("while pg3 was
 * re-pointed to it"). The caller probes twice before asking, so one slow probe never gives a healthy primary up.
 */
export function newPrimaryLost(candidate: string, seen: NewPrimarySeen | undefined, during: string): string | null {
  if (seen?.ok && seen.role === 'primary') return null;
  const how = seen?.ok
    ? `answers as a ${seen.role ?? 'node of unknown role'}`
    : `does not answer (${seen?.error ?? 'probe failed'})`;
  return `new primary ${candidate} ${how} ${during}`;
}

/** How a rejoin brings a node back as a replica: pg_rewind first (re-clone if it fails), or a re-clone at once. */
export interface RejoinMethod {
  readonly method: 'rewind' | 'reclone';
  readonly reason: string;
}

/**
 * A candidate the run gave up on is never rewound. Promoted from the old primary's timeline, it took the same
 * next timeline ID as the candidate promoted after it, forked at the same switch point, so pg_rewind compares
 * identical timeline histories, reports no rewind required, and the node then follows with WAL of its own at
 * positions where the new primary wrote something else (seen on the lab: replay stalls past its own end, not
 * streaming, a diverged data directory). A given-up candidate that never promoted loses only time by a re-clone.
 */
export function rejoinMethod(i: {
  readonly node: string;
  readonly givenUp: readonly string[];
  /** The node's registry status: `needs-reclone` marks a candidate an earlier run gave up on. @default not marked */
  readonly status?: string;
}): RejoinMethod {
  if (i.givenUp.includes(i.node)) {
    return {
      method: 'reclone',
      reason: `${i.node} was given up by the run as its candidate: if it promoted, its timeline has the new primary's ID with another history, which pg_rewind cannot tell apart`,
    };
  }
  if (i.status === NEEDS_RECLONE) {
    return {
      method: 'reclone',
      reason: `${i.node} is marked ${NEEDS_RECLONE} (an earlier run gave it up as its candidate): if it promoted, its timeline has another history under the same ID, which pg_rewind cannot tell apart`,
    };
  }
  return { method: 'rewind', reason: `${i.node} is a former primary: pg_rewind onto the new timeline` };
}

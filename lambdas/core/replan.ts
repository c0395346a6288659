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

/** The command an operator runs next when the run gives up: they must pick and verify the writer themselves. */
function nextCommand(excluded: readonly string[]): string {
  return `check ${excluded.join(', ')} (fenced: ingress revoked), then \`pgquorum failover --to NODE --force\` to a healthy replica or \`pgquorum resume --primary NODE\` once NODE is verified`;
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
      reason: `${failed}; ${excluded.length} candidate(s) given up (${excluded.join(', ')}), maxReplans ${i.maxReplans} reached: needs attention; ${nextCommand(excluded)}`,
    };
  }
  const remaining = i.nodes.filter((n) => n !== i.oldPrimary && !excluded.includes(n));
  if (!remaining.length) {
    return {
      action: 'give-up',
      excluded,
      reason: `${failed}; no other node to choose (old primary ${i.oldPrimary}, given up: ${excluded.join(', ')}): needs attention; ${nextCommand(excluded)}`,
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

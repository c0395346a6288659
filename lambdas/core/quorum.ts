import type { ControllerSettings } from './settings';
import type { Vote } from './types';

/** The quorum's view of the primary. */
export type Verdict = 'primary-up' | 'primary-down' | 'unknown';

/** A verdict, why, and which AZs said what. */
export interface QuorumVerdict {
  readonly verdict: Verdict;
  readonly reason: string;
  readonly downAzs: readonly string[];
  readonly upAzs: readonly string[];
  /** AZs with no fresh, usable vote about this primary. */
  readonly silentAzs: readonly string[];
}

/** Majority of n voters (2 of 3). */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** A vote this old or older no longer counts: one rule for the quorum, ConfirmQuorum and `pgquorum status`. */
export function isStaleVote(ageMs: number, voteTtlMs: number): boolean {
  return ageMs >= voteTtlMs;
}

/** What one vote says about the primary it names: reached, failing but under the threshold, or down. */
export type VoteReading = 'up' | 'failing' | 'down';

/** One vote's reading (invariant 2's threshold): down from failuresToDown consecutive failures on. */
export function readVote(
  vote: Pick<Vote, 'primaryOk' | 'consecutiveFailures'>,
  s: Pick<ControllerSettings, 'failuresToDown'>,
): VoteReading {
  if (vote.primaryOk) return 'up';
  return vote.consecutiveFailures >= s.failuresToDown ? 'down' : 'failing';
}

/** How the quorum counts a vote: `fresh` counts; `stale` (too old) and `unusable` (not trustworthy) do not. */
export type VoteKind = 'fresh' | 'stale' | 'unusable';

/** What every vote shows, counted or not. */
interface VoteSeen {
  /** Now minus its observedAt: negative for a vote from the future (a skewed clock). */
  readonly ageMs: number;
  /** What it says about the primary it names. */
  readonly reading: VoteReading;
}

/** One vote as the quorum counts it: a vote that does not count says why. */
export type VoteClass = VoteSeen &
  (
    | { readonly kind: 'fresh'; readonly reason: null }
    | { readonly kind: Exclude<VoteKind, 'fresh'>; readonly reason: string }
  );

/**
 * Classifies a vote about `primary` at `now`: one rule for the quorum (the probe's decision, ConfirmQuorum, the run
 * guards) and `pgquorum status`, so status never shows a vote as counting that the quorum ignores.
 */
export function classifyVote(
  vote: Vote,
  primary: string,
  now: number,
  s: Pick<ControllerSettings, 'voteTtlMs' | 'failuresToDown'>,
): VoteClass {
  const ageMs = now - vote.observedAt;
  const reading = readVote(vote, s);
  const not = (kind: Exclude<VoteKind, 'fresh'>, reason: string): VoteClass => ({ kind, reason, ageMs, reading });
  if (isStaleVote(ageMs, s.voteTtlMs)) return not('stale', `stale (${ageMs} ms old, ttl ${s.voteTtlMs} ms)`);
  // A vote from the future means a skewed clock: do not trust it either way (up to one TTL ahead passes as jitter).
  if (ageMs < -s.voteTtlMs) return not('unusable', `from the future (${-ageMs} ms ahead)`);
  if (vote.primary !== primary) return not('unusable', `about ${vote.primary}, not ${primary}`);
  if (vote.primaryOk && vote.consecutiveFailures > 0) return not('unusable', 'contradictory (ok with failures)');
  // A round that could not judge the primary (it refused the controller's credentials) counts for neither side.
  if (vote.primaryUnknown !== undefined) return not('unusable', `not judged: ${vote.primaryUnknown}`);
  return { kind: 'fresh', reason: null, ageMs, reading };
}

/** The fewest voters a quorum counts: a smaller fleet than the deployed three never shrinks the majority. @default 3 */
export const MIN_VOTERS = 3;

/**
 * The AZs whose votes make the quorum, one rule for the probe, ConfirmQuorum and `pgquorum resume`: the configured
 * probe AZs when known, otherwise every AZ a vote (or node) came from, sorted, padded with placeholder voters `?1`,
 * `?2`... to MIN_VOTERS. A placeholder never votes, so it counts as silent: with two votes stored both must agree,
 * as with the full fleet, instead of one of one.
 */
export function voterAzs(
  configured: readonly string[] | undefined,
  votes: readonly { readonly az: string }[],
): string[] {
  const given = (configured ?? []).filter(Boolean);
  const azs = given.length ? [...new Set(given)] : [...new Set(votes.map((v) => v.az))].sort();
  for (let i = 1; azs.length < MIN_VOTERS; i++) azs.push(`?${i}`);
  return azs;
}

/**
 * Quorum verdict (invariant 2): primary-down only when fresh votes from a
 * majority of probe AZs each report at least failuresToDown consecutive
 * failures of this primary. Stale, missing, contradictory or split votes give
 * 'unknown', never 'primary-down'.
 */
export function quorumVerdict(
  votes: readonly Vote[],
  opts: { primary: string; probeAzs: readonly string[]; now: number; settings: ControllerSettings },
): QuorumVerdict {
  const { primary, probeAzs, now, settings } = opts;
  const need = majority(probeAzs.length);
  const down: string[] = [];
  const up: string[] = [];
  const suspect: string[] = [];
  const silent: string[] = [];
  const notes: string[] = [];
  for (const az of probeAzs) {
    const mine = votes.filter((v) => v.az === az);
    // One vote per AZ: if a store ever returns more, the highest seq is the AZ's latest word.
    const vote = mine.sort((a, b) => b.seq - a.seq)[0];
    if (!vote) {
      silent.push(az);
      notes.push(`${az}: no vote`);
      continue;
    }
    const c = classifyVote(vote, primary, now, settings);
    if (c.kind !== 'fresh') {
      silent.push(az);
      notes.push(`${az}: ${c.reason}`);
    } else if (c.reading === 'up') {
      up.push(az);
    } else if (c.reading === 'down') {
      down.push(az);
      notes.push(`${az}: ${vote.consecutiveFailures} failures`);
    } else {
      suspect.push(az);
      notes.push(`${az}: ${vote.consecutiveFailures} of ${settings.failuresToDown} failures`);
    }
  }
  const total = probeAzs.length;
  const detail = notes.length ? ` (${notes.join('; ')})` : '';
  if (down.length >= need) {
    return {
      verdict: 'primary-down',
      reason: `${down.length} of ${total} AZs report ${primary} down${detail}`,
      downAzs: down,
      upAzs: up,
      silentAzs: silent,
    };
  }
  if (up.length >= need) {
    return {
      verdict: 'primary-up',
      reason: `${up.length} of ${total} AZs reach ${primary}${detail}`,
      downAzs: down,
      upAzs: up,
      silentAzs: silent,
    };
  }
  return {
    verdict: 'unknown',
    reason: `no quorum about ${primary}: ${down.length} down, ${up.length} up, ${suspect.length} suspecting, ${silent.length} silent of ${total}, ${need} needed${detail}`,
    downAzs: down,
    upAzs: up,
    silentAzs: silent,
  };
}

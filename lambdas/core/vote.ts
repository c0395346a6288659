import type { Vote } from './types';

/**
 * A probe AZ's next vote from its previous one and this round's result.
 * Failures only accumulate against the same primary: after a failover the
 * count starts again, so old failures never count against the new primary.
 */
export function nextVote(
  prev: Vote | undefined,
  round: { az: string; primary: string; primaryOk: boolean; now: number; unknown?: string },
): Vote {
  const sameTarget = prev !== undefined && prev.primary === round.primary;
  const carried = sameTarget ? prev.consecutiveFailures : 0;
  // A round that could not judge the primary is neither a success nor a failure: the count neither grows (a
  // credential fault is not the primary's) nor resets (a primary that was failing is not shown healthy by it).
  const judged = round.unknown === undefined;
  return {
    az: round.az,
    seq: (prev?.seq ?? 0) + 1,
    observedAt: round.now,
    primary: round.primary,
    primaryOk: judged && round.primaryOk,
    consecutiveFailures: !judged ? carried : round.primaryOk ? 0 : carried + 1,
    ...(judged ? {} : { primaryUnknown: round.unknown }),
  };
}

/** What one probe round's answer from the primary says about it. */
export interface PrimaryAnswer {
  readonly ok: boolean;
  readonly role?: 'primary' | 'replica';
  readonly heartbeatOk?: boolean;
  /** The node answered and refused the controller's credentials (SQLSTATE class 28). */
  readonly authFailed?: boolean;
  /** The node answered and failed the controller's TLS verification. */
  readonly tlsFailed?: boolean;
  readonly error?: string;
}

/** A round's reading of the primary: reached and writable, not, or not judged (with why). */
export interface PrimaryReading {
  readonly primaryOk: boolean;
  readonly unknown?: string;
}

/**
 * The probe's reading of the primary. A node that refuses the controller's credentials has answered: its postmaster
 * runs, so its refusal is no evidence that it is down, and a rotated password or an edited pg_hba.conf must never
 * add up to a failover (fail static: the controller is what is impaired). Nor is it evidence that it is up, since
 * the heartbeat write could not run: the round does not judge it. The same holds for a node that fails the
 * controller's TLS verification: an expired certificate or a rotated CA bundle is not a dead primary, and a failover
 * would meet the same certificates on the candidates (on a VPC address no other host can answer for the node).
 */
export function readPrimary(primary: string, answer: PrimaryAnswer | undefined): PrimaryReading {
  if (!answer) return { primaryOk: false };
  if (!answer.ok && answer.authFailed) {
    return {
      primaryOk: false,
      unknown: `${primary} refused the controller's credentials (${answer.error ?? 'SQLSTATE 28'})`,
    };
  }
  if (!answer.ok && answer.tlsFailed) {
    return {
      primaryOk: false,
      unknown: `${primary} failed the controller's TLS verification (${answer.error ?? 'certificate not verified'})`,
    };
  }
  return { primaryOk: Boolean(answer.ok && answer.role === 'primary' && answer.heartbeatOk) };
}

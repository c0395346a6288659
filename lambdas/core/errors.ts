/**
 * Typed errors. Every error pgquorum raises is a PgqError and says whether
 * retrying the same step may help (retriable) or not (fatal). Step Functions
 * retries on the error *name*, so names are stable API.
 */
export abstract class PgqError extends Error {
  abstract readonly retriable: boolean;
  constructor(
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A transient condition (timeout, throttling, node restarting): the same step may succeed if run again. */
export class RetriableError extends PgqError {
  readonly retriable = true;
}

/** A condition retrying cannot fix (bad input, stale epoch, refused by a rule): stop and report. */
export class FatalError extends PgqError {
  readonly retriable = false;
}

/** Input that does not parse or violates a rule; nothing was changed. */
export class ValidationError extends FatalError {}

/** True when the error is a PgqError that says retrying may help. */
export function isRetriable(err: unknown): boolean {
  return err instanceof PgqError && err.retriable;
}

/**
 * A host command cannot reach the instance: SSM refused it (`InvalidInstanceId`: the agent is not connected,
 * the instance is stopped or gone) or did not deliver it within the bound. Fatal on purpose: retrying the same
 * step waits out the same dead host; the fence decides its next rung instead (lambdas/core/fence-ladder.ts).
 */
export class HostUnreachableError extends FatalError {}

/**
 * The run's chosen candidate failed after SelectCandidate (it is gone, or is no primary any more): the state
 * machine routes this error name to Replan, which fences the candidate and chooses again, instead of Abort.
 */
export class CandidateFailedError extends FatalError {}

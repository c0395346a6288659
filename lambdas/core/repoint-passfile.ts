/**
 * The re-point's passfile fallback. `primary_conninfo` names a passfile on the replica's host (never a password), so
 * a host whose passfile is missing (provisioned before the State Manager association first ran, or by hand) or
 * stale (a rotated password the association has not caught up with yet) cannot authenticate: its walreceiver fails
 * and retries, and the re-point sees no stream. The controller cannot look at the file itself (it is outside the
 * data directory, and it holds passwords the controller must never read), so when a reachable replica does not
 * stream, the host's own `write-passfile` script says what the file held and rewrites it from the hosts' secret; the
 * re-point then waits once more. It is not run before every re-point: that would put a host command (0.5-2 s on
 * AWS) on the write path of every failover to serve a case the association already covers.
 */

/**
 * How the first re-point attempt failed. `unreachable`: the replica's PostgreSQL did not answer at all.
 * `quorum-met`: the wait was stopped early because another replica already streams (repointEnough).
 */
export interface RepointFailure {
  readonly kind: 'unreachable' | 'not-streaming' | 'quorum-met';
  readonly message: string;
}

/**
 * What `write-passfile` reported: the file was `missing`, `stale` or `current` before it ran (`unknown` from a
 * version that does not say; it wrote the file all the same), or the command failed (`error`).
 */
export type PassfileOutcome =
  | { readonly state: 'missing' | 'stale' | 'current' | 'unknown' }
  | { readonly error: string };

/** The second attempt's result. */
export type RetryOutcome = { readonly ok: true } | { readonly ok: false; readonly message: string };

/** What the re-point does next: ask the host, try once more, or finish with a result for the run's record. */
export type RepointNext =
  | { readonly action: 'write-passfile'; readonly reason: string }
  | { readonly action: 'retry'; readonly reason: string }
  | { readonly action: 'done'; readonly ok: boolean; readonly detail: string };

/** Inputs of {@link repointNext}; each later field is present once the previous action ran. */
export interface RepointNextInput {
  readonly replica: string;
  readonly primary: string;
  /** The passfile path `primary_conninfo` names (PGQ_PASSFILE). */
  readonly passfile: string;
  readonly timeline?: number;
  readonly failure: RepointFailure;
  readonly passfileOutcome?: PassfileOutcome;
  readonly retry?: RetryOutcome;
}

/** Reads `PASSFILE_STATE=` from write-passfile's output; `unknown` when an older script does not print it. */
export function parsePassfileState(stdout: string): 'missing' | 'stale' | 'current' | 'unknown' {
  const m = /\bPASSFILE_STATE=(missing|stale|current)\b/.exec(stdout);
  return (m?.[1] as 'missing' | 'stale' | 'current' | undefined) ?? 'unknown';
}

const WAS: Record<'missing' | 'stale' | 'unknown', string> = {
  missing: 'was missing',
  stale: 'held a stale password',
  unknown: 'may have been missing (the host script does not say)',
};

/**
 * Decides the next step after a re-point that did not stream. Every `done` that is not ok is one sentence for the
 * run's degraded list, ending with the command that fixes the replica. Passwords never appear: only the path.
 */
export function repointNext(i: RepointNextInput): RepointNext {
  const fix = `run pgquorum rejoin ${i.replica}`;
  if (i.failure.kind === 'unreachable') {
    // A replica whose PostgreSQL does not answer cannot be one whose walreceiver lacks a password.
    return { action: 'done', ok: false, detail: `not re-pointed: ${i.failure.message}` };
  }
  if (i.failure.kind === 'quorum-met') {
    // The early stop is there so writes are not held back: a host command and a second wait would hold them again.
    // The rejoin that fixes the replica writes its passfile on the way.
    return { action: 'done', ok: false, detail: `not re-pointed: ${i.failure.message}: ${fix}` };
  }
  const o = i.passfileOutcome;
  if (!o) {
    return {
      action: 'write-passfile',
      reason: `${i.replica} does not stream from ${i.primary}; a host without its passfile (${i.passfile}), or with a stale one, cannot authenticate: its write-passfile says which and rewrites it`,
    };
  }
  if ('error' in o) {
    return {
      action: 'done',
      ok: false,
      detail: `not re-pointed: ${i.failure.message}; its passfile at ${i.passfile} could not be checked or written (${o.error}): ${fix}`,
    };
  }
  if (o.state === 'current') {
    return {
      action: 'done',
      ok: false,
      detail: `not re-pointed: ${i.failure.message} (its passfile at ${i.passfile} is current, so not the cause): ${fix}`,
    };
  }
  const was = WAS[o.state];
  if (!i.retry) {
    return {
      action: 'retry',
      reason: `${i.replica}'s passfile at ${i.passfile} ${was} and is written now: waiting once more for it to stream from ${i.primary}`,
    };
  }
  if (i.retry.ok) {
    return {
      action: 'done',
      ok: true,
      detail: `streams from ${i.primary} on timeline ${i.timeline ?? '?'} (its passfile at ${i.passfile} ${was}: written by write-passfile, then re-pointed)`,
    };
  }
  return {
    action: 'done',
    ok: false,
    detail: `not re-pointed: ${i.retry.message}, even after its passfile at ${i.passfile} (which ${was}) was written: ${fix}`,
  };
}

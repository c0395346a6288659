import { CandidateFailedError } from '../core/errors';
import { newPrimaryLost } from '../core/replan';
import type { RegisteredNode } from '../ports/store-port';
import { endpointOf } from './cluster-view';
import type { Deps } from './deps';
import type { RunState } from './run-state';
import { record } from './task';

/**
 * Between two probes of the promoted candidate: long enough that a probe that timed out on a busy network is not
 * repeated into the same stall, short against the steps it guards (a lost candidate costs a re-plan anyway).
 * @default 500
 */
export const NEW_PRIMARY_REPROBE_MS = 500;

/**
 * Throws CandidateFailedError (Replan chooses again) when the run's promoted candidate no longer answers as a
 * writable primary, by two probes NEW_PRIMARY_REPROBE_MS apart (decided by core `newPrimaryLost`); records
 * `<step>-candidate-lost` with the reason first. Only a failover re-plans, and only before its commit.
 */
export async function requireNewPrimary(
  d: Deps,
  state: RunState,
  primary: RegisteredNode,
  step: string,
  during: string,
): Promise<void> {
  const lostNow = async (): Promise<string | null> => {
    const seen = await d.pg.probe(endpointOf(primary)).catch((err: Error) => ({ ok: false, error: err.message }));
    return newPrimaryLost(primary.name, seen, during);
  };
  // A second probe before giving the candidate up: one timed-out probe on a busy network is not a lost primary.
  let lost = await lostNow();
  if (lost) {
    await new Promise((r) => setTimeout(r, NEW_PRIMARY_REPROBE_MS));
    lost = await lostNow();
  }
  if (!lost) return;
  await record(d, state, `${step}-candidate-lost`, lost);
  throw new CandidateFailedError(lost);
}

import { findNode } from './cluster-view';
import { requireNewPrimary } from './new-primary';
import { StepRefusedError, task } from './task';

/**
 * The failover's last look at its candidate before the commit, after every replica was re-pointed and the records
 * UPSERTed (FlipDns runs outside the VPC and Commit has no database access, so this step, in the VPC, does it).
 * A candidate that died since the last re-point is given up like one that died during it: CandidateFailedError,
 * and the state machine's catch goes to Replan (fence it, choose again, flip the records again). Once the lease
 * names the candidate its death is a new run's; the window left is this step's end to Commit's write.
 */
export const handler = task(
  'confirm-candidate',
  { needs: ['candidate'], policy: 'holder', requires: ['candidate', 'promoted'] },
  async (state, d) => {
    if (state.input.mode !== 'failover') {
      throw new StepRefusedError(`confirm-candidate refused: a ${state.input.mode} does not re-plan; nothing changed`);
    }
    const primary = findNode(await d.store.listNodes(), state.candidate);
    await requireNewPrimary(d, state, primary, 'confirm-candidate', 'after the re-points, before the commit');
    return state;
  },
);

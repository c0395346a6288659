import { type LabDeployment, restartProbes, stopProbes } from '../../lab/deploy';
import type { Lab } from '../../lab/index';
import { type CandidateKillMoment, candidateKillTrial, labStore, waitForHealthyVotes } from '../../lab/scenarios';
import { useDeployedLab } from './fixtures';

/**
 * Re-plan drills (issue 13): kill -9 of the primary, then kill -9 of the run's candidate as the state machine
 * enters Promote, as Promote has just succeeded, or once every replica was re-pointed to it (before FlipDns). The run must fence the killed candidate, choose the other
 * replica and commit on its own; no acknowledged write is lost; never two primaries accepting writes, even once
 * the killed candidate's PostgreSQL is started again.
 */
let lab: Lab;
let d: LabDeployment;

/**
 * The probes' healthy votes about pg1 are not enough: a replica becomes a candidate only once a probe round saw
 * it streaming (lastStreamedAt), and right after a reset the first rounds may predate the replicas' streams.
 */
async function freshCluster(): Promise<void> {
  await stopProbes(d);
  await lab.reset();
  await restartProbes(d);
  await waitForHealthyVotes(30000);
  const by = Date.now() + 30000;
  for (;;) {
    const votes = await labStore().getVotes();
    const seen = (n: string) => votes.some((v) => v.nodes?.[n]?.streaming);
    if (seen('pg2') && seen('pg3')) return;
    if (Date.now() > by) throw new Error('the probes never saw pg2 and pg3 streaming after the reset');
    await new Promise((r) => setTimeout(r, 200));
  }
}

useDeployedLab({ probeRunMs: 170000 }, (x) => {
  ({ lab, d } = x);
});

// before-commit: killed as FlipDns is invoked, after every replica was re-pointed to it. ConfirmCandidate probes
// the candidate before Commit, so that run re-plans too instead of committing a dead primary.
describe.each<CandidateKillMoment>(['entering-promote', 'after-promote', 'before-commit'])(
  'candidate killed %s',
  (moment) => {
    afterEach(async () => {
      await stopProbes(d);
    }, 60000);

    it('re-plans to the other replica and commits: killed candidate fenced, nothing lost, one writer', async () => {
      // Probe loops end before the reset and start afresh after (a rebuilt pg1 under running probes looks dead).
      await freshCluster();
      const t = await candidateKillTrial(lab, d, moment, {
        onProgress: (m) => process.stderr.write(`[replan ${moment}] ${m}\n`),
      });
      process.stderr.write(
        `[replan ${moment}] ${JSON.stringify({ ...t, acked: undefined, event: t.event?.timeline.map((s) => `${s.step}: ${s.detail.slice(0, 140)}`) }, null, 1)}\n`,
      );
      expect(t.killedCandidate).not.toBeNull();
      expect(t.outcome).toBe('failover');
      expect(t.excluded).toEqual([t.killedCandidate]);
      expect(t.newPrimary).not.toBe(t.killedCandidate);
      expect(t.event?.timeline.map((s) => s.step)).toEqual(expect.arrayContaining(['replan', 'replan-fence-revoke']));
      expect(t.killedIngress).toBe('fenced');
      expect(t.ackedWrites).toBeGreaterThan(10);
      expect(t.lostAcknowledged).toEqual([]);
      expect(t.lostOnSurvivor).toEqual([]);
      expect(t.writablePrimaries).toEqual([t.newPrimary]);
    }, 300000);
  },
);

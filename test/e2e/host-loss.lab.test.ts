import { type LabDeployment, restartProbes, stopProbes } from '../../lab/deployer/deploy';
import { hostFaultTrial, waitForHealthyVotes } from '../../lab/drills/scenarios';
import type { Lab } from '../../lab/world/index';
import { useDeployedLab } from './fixtures';

/**
 * The primary's whole host is lost under write load (the instance stays `running`), with a client holding a session
 * to it. The fence's SSM stop is never delivered; in sync mode the fence sends it without waiting and fences by
 * quorum, so the run commits on its own. Asserted: no acknowledged write lost, never two primaries accepting writes
 * (also after the host comes back), and the product's own outcome.
 */
let lab: Lab;
let d: LabDeployment;

useDeployedLab({ probeRunMs: 400000 }, (x) => {
  ({ lab, d } = x);
});

describe('host loss', () => {
  it('the primary host lost (instance running): no acknowledged write lost, never two primaries accepting writes', async () => {
    await stopProbes(d);
    await lab.reset();
    await restartProbes(d);
    await waitForHealthyVotes(30000);
    const t = await hostFaultTrial(lab, d, 'host-loss-running');
    // The fault happened and the controller saw it: a run started and ended one way or the other.
    expect(t.execution).toBeDefined();
    expect(t.ackedWrites).toBeGreaterThan(0);
    expect(t.lostAcknowledged).toEqual([]);
    expect(t.splitBrainWrites).toBe(0);
    expect(t.writableAtEnd.length).toBeLessThanOrEqual(1);
    // The product asked the lost host to stop PostgreSQL, and the lab never delivered it.
    expect(t.ssm.filter((i) => i.script === 'stop-postgres-immediate').map((i) => i.status)).toContain('Pending');
    // Issue 12: the run learns the host is gone, fences by quorum (sync mode) and commits on its own.
    expect(t.outcome).toBe('failover');
    expect(t.event?.timeline.map((s) => s.step)).toEqual(expect.arrayContaining(['fence-quorum', 'commit']));
    expect(t.event?.timeline.find((s) => s.step === 'fence-quorum')?.detail).toMatch(
      /^stop of PostgreSQL sent, not awaited \(SSM command .*\): fencing by quorum/,
    );
    expect(t.writableAtEnd).toEqual([t.newPrimary]);
  }, 400000);
});

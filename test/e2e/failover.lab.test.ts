import { deployToLab, type LabDeployment, startProbes, undeployFromLab } from '../../lab/deploy';
import { Lab } from '../../lab/index';
import { kill9Trial, labStore, pauseShortTrial, switchoverTrial } from '../../lab/scenarios';

/**
 * The product end to end on the lab: the synthesized state machine and the
 * bundled handlers, deployed into the emulator, driving real PostgreSQL.
 * Timing targets live in `npm run bench`; these assert outcomes.
 */
let lab: Lab;
let d: LabDeployment;

beforeAll(async () => {
  lab = await Lab.attach();
  await lab.reset();
  d = await deployToLab(lab, { probeRunMs: 170000 });
  await startProbes(d);
  // A few probe rounds so every AZ has voted "up" before the first fault.
  await new Promise((r) => setTimeout(r, 3000));
}, 180000);

afterAll(async () => {
  await undeployFromLab();
  await lab.reset();
}, 60000);

describe('unplanned failover', () => {
  it('kill -9 of the primary: fails over with zero acknowledged writes lost, then rejoins the old primary', async () => {
    const t = await kill9Trial(lab, d);
    expect(t.executionStatus).toBe('SUCCEEDED');
    expect(t.outcome).toBe('failover');
    expect(['pg2', 'pg3']).toContain(t.newPrimary);
    expect(t.ackedWrites).toBeGreaterThan(10);
    expect(t.lostAcknowledged).toEqual([]);
    expect(t.rtoMs).not.toBeNull();
    expect(t.event).toMatchObject({ outcome: 'committed', oldPrimary: 'pg1', newPrimary: t.newPrimary });
    const steps = t.event!.timeline.map((s) => s.step);
    for (const s of [
      'acquire-lease',
      'confirm-quorum',
      'select-candidate',
      'fence-revoke',
      'fence-sever',
      'verify-fence',
      'promote',
      'flip-dns',
      'commit',
    ]) {
      expect(steps).toContain(s);
    }
    // Rejoin: the old primary streams from the new one again, without a full copy.
    expect(t.event!.rejoin).toMatch(/pg1 streams from pg[23] again \(pg_rewind\)/);
    const st = await lab.status();
    const pg1 = st.nodes.find((n) => n.name === 'pg1')!;
    expect(pg1.role).toBe('replica');
    expect(pg1.upstream).toBe(t.newPrimary);
    expect(st.writer).toEqual([t.newPrimary]);
    // Settled outside the VPC: the rejoined node is back behind the reader record and healthy in the registry.
    expect([...st.reader].sort()).toEqual(['pg1', 'pg2', 'pg3'].filter((n) => n !== t.newPrimary));
    expect((await labStore().listNodes()).find((n) => n.name === 'pg1')?.status).toBe('healthy');
    const lease = await labStore().getLease();
    expect(lease).toMatchObject({ state: 'steady', primary: t.newPrimary, epoch: 2 });
  }, 180000);
});

describe('no false failover', () => {
  beforeAll(async () => {
    await lab.reset();
    await new Promise((r) => setTimeout(r, 4000));
  }, 60000);

  it('a primary paused for less than the detection window is not failed over', async () => {
    const r = await pauseShortTrial(lab, d, 1500);
    expect(r.failoverStarted).toBe(false);
    expect(r.epochAfter).toBe(r.epochBefore);
  }, 60000);
});

describe('planned switchover', () => {
  it('switches to a named replica with zero acknowledged writes lost, the old primary following', async () => {
    const t = await switchoverTrial(lab, d, 'pg3');
    expect(t.executionStatus).toBe('SUCCEEDED');
    expect(t.newPrimary).toBe('pg3');
    expect(t.lostAcknowledged).toEqual([]);
    expect(t.ackedWrites).toBeGreaterThan(10);
    expect(t.event?.rejoin).toMatch(/pg1 streams from pg3 \(no rewind needed\)/);
    const st = await lab.status();
    expect(st.nodes.find((n) => n.name === 'pg1')).toMatchObject({ role: 'replica', upstream: 'pg3' });
    expect(st.nodes.find((n) => n.name === 'pg2')).toMatchObject({ role: 'replica', upstream: 'pg3' });
    expect([...st.reader].sort()).toEqual(['pg1', 'pg2']);
  }, 120000);
});

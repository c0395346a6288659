import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { deployToLab, type LabDeployment, restartProbes, stopProbes } from '../../lab/deployer/deploy';
import {
  type CandidateKillMoment,
  candidateBehindTrial,
  candidateKillTrial,
  labStore,
  replanExhaustedTrial,
  waitForHealthyVotes,
  writablePrimaries,
} from '../../lab/drills/scenarios';
import type { Lab } from '../../lab/world/index';
import { buildCli } from '../cli/fixtures';
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
      // Marked for a re-clone, so neither the reader record nor a later rejoin treats it as a plain replica.
      const killedNode = (await labStore().listNodes()).find((n) => n.name === t.killedCandidate);
      expect(killedNode?.status).toBe('needs-reclone');
      // The record as settle-rejoin wrote it (a resolver under --cloud aws may still show the value before it).
      const readers = t.event?.timeline.find((s) => s.step === 'reader-record')?.detail;
      expect(readers).toMatch(/ -> /);
      expect(readers).not.toContain(killedNode!.privateIp);
    }, 300000);
  },
);

describe('the candidate behind after the fence (Promote re-checks once no more WAL can arrive)', () => {
  afterEach(async () => {
    await stopProbes(d);
  }, 60000);

  it('the old primary committed with the other standby only: re-planned to it, nothing acknowledged lost', async () => {
    await freshCluster();
    const t = await candidateBehindTrial(lab, d, { onProgress: (m) => process.stderr.write(`[recheck] ${m}\n`) });
    process.stderr.write(
      `[recheck] ${JSON.stringify({ ...t, acked: undefined, event: t.event?.timeline.map((s) => `${s.step}: ${s.detail.slice(0, 160)}`) }, null, 1)}\n`,
    );
    const chosen = t.chosen!;
    expect(chosen).not.toBeNull();
    // The drill did what it means to: the old primary acknowledged writes the chosen candidate never received.
    expect(t.ackedAfterFreeze).toBeGreaterThan(0);
    expect(t.outcome).toBe('failover');
    expect(t.excluded).toEqual([chosen]);
    expect(t.replanReason).toMatch(
      new RegExp(
        `^candidate ${chosen} failed \\(CandidateFailedError: ${chosen} received \\S+ but ${t.newPrimary} received \\S+ \\(\\d+ bytes more\\) by the time the old primary was fenced`,
      ),
    );
    expect(t.newPrimary).not.toBe(chosen);
    expect(t.lostAcknowledged).toEqual([]);
    expect(t.writablePrimaries).toEqual([t.newPrimary]);
  }, 300000);
});

describe('maxReplans reached (deployed with maxReplans 0)', () => {
  const root = path.resolve(__dirname, '..', '..');
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, [path.join(root, 'bin', 'pgquorum.js'), ...args], {
      cwd: root,
      env: { ...process.env, ...lab.awsEnv },
      encoding: 'utf8',
      timeout: 240000,
    });
    process.stderr.write(`[replan exhausted] pgquorum ${args.join(' ')}: exit ${r.status}\n${r.stdout}${r.stderr}\n`);
    return r;
  };

  beforeAll(async () => {
    buildCli();
    await stopProbes(d);
    d = await deployToLab(lab, { probeRunMs: 170000, settings: { maxReplans: 0 } });
  }, 600000);

  afterAll(async () => {
    await stopProbes(d);
  }, 60000);

  it('the candidate killed entering Promote: needs-attention naming the nodes and next command, both fenced, no writer, nothing lost; the next command brings writes back', async () => {
    await freshCluster();
    const t = await replanExhaustedTrial(lab, d, {
      onProgress: (m) => process.stderr.write(`[replan exhausted] ${m}\n`),
    });
    process.stderr.write(
      `[replan exhausted] ${JSON.stringify({ ...t, acked: undefined, event: t.event?.timeline.map((s) => `${s.step}: ${s.detail.slice(0, 160)}`) }, null, 1)}\n`,
    );
    const killed = t.killedCandidate!;
    expect(killed).not.toBeNull();
    expect(t.outcome).toBe('failed');
    expect(t.leaseState).toBe('needs-attention');
    // One sentence: the nodes, the bound, and the commands that lead on (nothing cut, no JSON, no second "next").
    expect(t.reason).toMatch(
      new RegExp(
        `^failover pg1 -> ${killed} aborted at epoch \\d+: candidate ${killed} failed \\(.+\\); 1 candidate\\(s\\) given up \\(${killed}\\), maxReplans 0 reached: needs attention; check ${killed} \\(fenced: ingress revoked\\), then \`npx pgquorum resume --primary pg1\` and \`npx pgquorum failover --to NODE --force\` to a healthy replica$`,
      ),
    );
    expect(t.reason).not.toMatch(/errorType|errorMessage|\n|; next:/);
    expect(t.event?.timeline.map((s) => s.step)).toEqual(
      expect.arrayContaining(['fence-revoke', 'replan-fence-revoke', 'replan-give-up', 'abort']),
    );
    // The killed candidate (started again, a replica that never promoted) and the old primary: ingress revoked.
    expect(t.killedIngress).toBe('fenced');
    expect(t.oldPrimaryIngress).toBe('fenced');
    expect(t.writablePrimaries).toEqual([]);
    expect(t.ackedWrites).toBeGreaterThan(10);
    expect(t.lostOnSurvivor).toEqual([]);

    // The next command, as the reason names it: the old primary is dead, so resume leaves the lease paused, and
    // the operator's forced failover to the healthy replica runs from there.
    const remaining = t.remaining!;
    expect(cli('resume', '--primary', 'pg1', '--yes').status).toBe(0);
    expect(await labStore().getLease()).toMatchObject({ state: 'paused', primary: 'pg1' });
    const fo = cli('failover', '--to', remaining, '--force', '--yes', '--reason', 'drill: after maxReplans');
    expect(fo.status).toBe(0);
    expect(await labStore().getLease()).toMatchObject({ state: 'paused', primary: remaining });
    expect(await writablePrimaries(lab)).toEqual([remaining]);

    // The given-up candidate, rejoined under the forced failover's epoch (not the one that gave it up): the
    // registry's mark makes it a re-clone, never a pg_rewind onto a timeline ID it may share with another history.
    expect((await labStore().listNodes()).find((n) => n.name === killed)?.status).toBe('needs-reclone');
    const rj = cli('rejoin', killed, '--yes', '--json');
    expect(rj.status).toBe(0);
    const outcome = JSON.parse(rj.stdout) as { detail: string; status: string; succeeded: boolean };
    expect(outcome).toMatchObject({ status: 'healthy', succeeded: true });
    expect(outcome.detail).toMatch(
      new RegExp(`^${killed} streams from ${remaining} again \\(re-clone \\(${killed} is marked needs-reclone`),
    );
    const after = (await lab.status()).nodes.find((n) => n.name === killed);
    expect(after).toMatchObject({ role: 'replica', upstream: remaining, gateOpen: true });
  }, 420000);
});

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Client } from 'pg';
import { deployToLab, type LabDeployment, restartProbes, startProbes, stopProbes } from '../../lab/deployer/deploy';
import { executionsSince, labStore } from '../../lab/drills/scenarios';
import { LAB_CONTROLLER_PASSWORD, LAB_CONTROLLER_USER, type Lab } from '../../lab/world/index';
import type { Episode } from '../../lambdas/core/episode';
import type { ControllerSettings } from '../../lambdas/core/settings';
import { useAttachedLab } from './fixtures';

/**
 * Both replicas lost under onNoSyncStandby block and degrade, on the lab (the aws profile of the test run):
 * the probes see it within seconds, page once, `status` says so; block keeps commits waiting (nothing
 * acknowledged without a standby), degrade lets them through after degradeAfterSec with an RPO window in the
 * history, and a replica that streams again brings quorum sync back. Timings are bounds, not targets.
 */
let lab: Lab;
let d: LabDeployment | undefined;
const root = path.resolve(__dirname, '..', '..');

useAttachedLab({ cli: true }, (x) => {
  ({ lab } = x);
});

async function deployWith(settings: Partial<ControllerSettings>): Promise<void> {
  if (d) await stopProbes(d);
  await lab.reset();
  d = await deployToLab(lab, { probeRunMs: 170000, settings });
  await startProbes(d);
  await new Promise((r) => setTimeout(r, 4000));
}

/** A fresh cluster under the deployed default controller: the last describes reset what the ones before left. */
async function freshCluster(): Promise<void> {
  if (!d) return deployWith({});
  // stopProbes deletes the probe functions: restartProbes creates and starts them again.
  await stopProbes(d);
  await lab.reset();
  await restartProbes(d);
  await new Promise((r) => setTimeout(r, 4000));
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const episode = async (): Promise<Episode | undefined> =>
  (await labStore().getEpisodes()).find((e) => e.kind === 'sync-standby-missing');

/** A synchronous commit on pg1, started now; resolves with when it was acknowledged. */
function startCommit(value: number): { acked: Promise<number>; client: Client } {
  const client = new Client(lab.nodeConnection('pg1'));
  client.on('error', () => undefined);
  const acked = (async () => {
    await client.connect();
    await client.query('CREATE TABLE IF NOT EXISTS sync_drill (v int)');
    await client.query('INSERT INTO sync_drill VALUES ($1)', [value]);
    return Date.now();
  })();
  acked.catch(() => undefined);
  return { acked, client };
}

const settled = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

function statusWarnings(): string[] {
  const out = spawnSync(process.execPath, [path.join(root, 'bin', 'pgquorum.js'), 'status', '--json'], {
    cwd: root,
    env: { ...process.env, ...lab.awsEnv },
    encoding: 'utf8',
    timeout: 60000,
  });
  return (JSON.parse(out.stdout) as { warnings: string[] }).warnings;
}

describe('onNoSyncStandby block', () => {
  beforeAll(() => deployWith({ onNoSyncStandby: 'block' }), 600000);

  it('both replicas lost: commits block, status says so, one page; a replica back ends it', async () => {
    await lab.pgStop('pg2', 'immediate');
    await lab.pgStop('pg3', 'immediate');
    const lostAt = Date.now();
    const w = startCommit(1);
    const ep = await until('the loss episode', async () => ((await episode())?.active ? episode() : undefined), 15000);
    expect(ep).toMatchObject({ active: true, node: 'pg1', rev: 1 });
    expect(ep.since - lostAt).toBeLessThan(10000);
    expect(statusWarnings().some((l) => /^no synchronous standby on pg1 since/.test(l))).toBe(true);
    // Well past degradeAfterSec's default: block never lets the commit through without a standby.
    expect(await settled(w.acked, 20000)).toBe(false);
    expect((await labStore().getLease()).syncDegraded).toBeUndefined();
    // Three probes saw the same loss for 20 s: still one write (one page).
    expect((await episode())?.rev).toBe(1);

    await lab.pgStart('pg2');
    await w.acked;
    const end = await until(
      'the end of the episode',
      async () => ((await episode())?.active === false ? episode() : undefined),
      30000,
    );
    expect(end).toMatchObject({ active: false, rev: 2 });
    await w.client.end();
  }, 120000);
});

describe('onNoSyncStandby degrade', () => {
  beforeAll(() => deployWith({ onNoSyncStandby: 'degrade', degradeAfterSec: 6 }), 600000);

  it('writes resume after degradeAfterSec with an RPO window recorded; a replica back restores quorum sync', async () => {
    await lab.pgStop('pg2', 'immediate');
    await lab.pgStop('pg3', 'immediate');
    const w = startCommit(2);
    expect(await settled(w.acked, 3000)).toBe(false);
    const ackedAt = await w.acked;
    const lease = await labStore().getLease();
    expect(lease.syncDegraded).toMatchObject({ primary: 'pg1', savedNames: 'ANY 1 (pg1, pg2, pg3)' });
    const ep = await episode();
    expect(ep).toMatchObject({ active: true, node: 'pg1', rev: 1 });
    // Not before degradeAfterSec of loss; within a few probe rounds after it.
    expect(ackedAt - ep!.since).toBeGreaterThanOrEqual(6000);
    expect(ackedAt - ep!.since).toBeLessThan(20000);
    const open = (await labStore().listEvents(10)).find((e) => e.kind === 'rpo-window');
    expect(open).toMatchObject({ outcome: 'open', oldPrimary: 'pg1', epoch: lease.epoch });
    expect(statusWarnings().some((l) => /pg1 degraded to async since/.test(l))).toBe(true);
    await w.client.end();

    await lab.pgStart('pg3');
    await until('the degrade record cleared', async () => !(await labStore().getLease()).syncDegraded, 40000);
    const c = new Client(lab.nodeConnection('pg1'));
    await c.connect();
    const [{ names }] = (await c.query("SELECT current_setting('synchronous_standby_names') AS names")).rows;
    const sync = (await c.query("SELECT application_name FROM pg_stat_replication WHERE sync_state = 'quorum'")).rows;
    await c.end();
    expect(names).toBe('ANY 1 (pg1, pg2, pg3)');
    expect(sync.map((r) => r.application_name)).toEqual(['pg3']);
    const closed = (await labStore().listEvents(10)).find((e) => e.kind === 'rpo-window');
    expect(closed).toMatchObject({ outcome: 'closed', oldPrimary: 'pg1' });
    expect(closed?.timeline.map((s) => s.step)).toEqual(['degrade', 'restore', 'closed']);
    expect(await episode()).toMatchObject({ active: false, rev: 2 });
  }, 150000);

  it('a standby that streams, drops, streams: one degrade, no restore until it has streamed syncRestoreAfterSec', async () => {
    // From the test above: pg3 is pg1's quorum standby, pg2 stopped. pg3 goes, and pg1 degrades once.
    const windows = async () => (await labStore().listEvents(20)).filter((e) => e.kind === 'rpo-window');
    const before = (await windows()).length;
    await lab.pgStop('pg3', 'immediate');
    await until('the degrade', async () => (await labStore().getLease()).syncDegraded, 30000);
    // Flap: pg3 streams for ~3 s (less than syncRestoreAfterSec 10) and drops, four times.
    for (let i = 0; i < 4; i++) {
      await lab.pgStart('pg3');
      await new Promise((r) => setTimeout(r, 3000));
      await lab.pgStop('pg3', 'immediate');
      await new Promise((r) => setTimeout(r, 1500));
    }
    // No toggle: still degraded, not restoring, and commits flow (async semantics, the window open).
    expect((await labStore().getLease()).syncDegraded?.restoringSince).toBeUndefined();
    const w = startCommit(3);
    expect(await settled(w.acked, 5000)).toBe(true);
    await w.client.end();
    // Newest first: the windows opened since the flap began.
    const now = await windows();
    const during = now.slice(0, now.length - before);
    expect(during).toHaveLength(1);
    expect(during[0]).toMatchObject({ outcome: 'open', oldPrimary: 'pg1' });
    expect(during[0]?.timeline.map((s) => s.step)).toEqual(['degrade']);

    // pg3 back for good: restored once it has streamed syncRestoreAfterSec, the one window closed.
    const back = Date.now();
    await lab.pgStart('pg3');
    await until('the degrade record cleared', async () => !(await labStore().getLease()).syncDegraded, 60000);
    expect(Date.now() - back).toBeGreaterThanOrEqual(10000);
    const all = await windows();
    expect(all.length - before).toBe(1);
    const closed = all.find((e) => e.startedAt === during[0]?.startedAt);
    expect(closed?.timeline.map((s) => s.step)).toEqual(['degrade', 'restore', 'closed']);
  }, 180000);
});

describe("the controller's password changed under the probes (a rotation the functions have not read yet)", () => {
  beforeAll(freshCluster, 600000);

  const setControllerPassword = async (password: string) => {
    const c = new Client({ ...lab.directConnection('pg1'), connectionTimeoutMillis: 3000 });
    await c.connect();
    try {
      await c.query(`ALTER ROLE ${LAB_CONTROLLER_USER} PASSWORD '${password}'`);
    } finally {
      await c.end();
    }
  };

  it('every node refuses the probes: no run starts, one page, status says what to check; accepted again ends it', async () => {
    const before = await labStore().getLease();
    const since = Date.now();
    const refused = async () => (await labStore().getEpisodes()).find((e) => e.kind === 'credentials-refused');
    await setControllerPassword('rotated-elsewhere');
    try {
      const ep = await until(
        'the credentials episode',
        async () => ((await refused())?.active ? refused() : undefined),
        15000,
      );
      expect(ep).toMatchObject({ active: true, node: 'pg1', rev: 1 });
      expect(ep.detail).toMatch(/^pg1, pg2, pg3 refused the controller credentials .*no automatic failover starts/);
      // Well past failuresToDown rounds of three probes: every AZ reads pg1 as refused, none as down.
      await new Promise((r) => setTimeout(r, 8000));
      expect((await refused())?.rev).toBe(1);
      expect(await labStore().getLease()).toMatchObject({ epoch: before.epoch, state: 'steady', primary: 'pg1' });
      expect(await executionsSince(d!, since)).toEqual([]);
      const votes = await labStore().getVotes();
      expect(votes.length).toBe(3);
      for (const v of votes) expect(v.primaryUnknown).toMatch(/^pg1 refused the controller's credentials/);
    } finally {
      await setControllerPassword(LAB_CONTROLLER_PASSWORD);
    }
    const end = await until(
      'the end of the episode',
      async () => ((await refused())?.active === false ? refused() : undefined),
      30000,
    );
    expect(end).toMatchObject({ active: false, rev: 2 });
    await until(
      'an up vote from every AZ',
      async () => {
        const votes = await labStore().getVotes();
        return votes.length === 3 && votes.every((v) => v.primaryOk);
      },
      15000,
    );
  }, 120000);
});

describe('a primary the lease does not name', () => {
  beforeAll(freshCluster, 600000);

  it('a replica promoted by hand: the probes page once and status warns; no run starts', async () => {
    const before = await labStore().getLease();
    const c = new Client(lab.nodeConnection('pg2'));
    await c.connect();
    await c.query('SELECT pg_promote(true, 30)');
    await c.end();
    const unnamed = async () => (await labStore().getEpisodes()).find((e) => e.kind === 'unnamed-primary');
    const ep = await until(
      'the unnamed-primary episode',
      async () => ((await unnamed())?.active ? unnamed() : undefined),
      15000,
    );
    expect(ep).toMatchObject({ active: true, node: 'pg2', rev: 1 });
    expect(ep.detail).toMatch(/pg2 answers as a writable primary but the lease names pg1/);
    expect(statusWarnings().some((l) => /pg2 answers as a writable primary but the lease names pg1/.test(l))).toBe(
      true,
    );
    // Several rounds of three probes later: still the one page, and the lease untouched (no automatic run).
    await new Promise((r) => setTimeout(r, 5000));
    expect((await unnamed())?.rev).toBe(1);
    expect(await labStore().getLease()).toMatchObject({ epoch: before.epoch, state: 'steady', primary: 'pg1' });
  }, 90000);
});

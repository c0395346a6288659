import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { Client } from 'pg';
import { type LabDeployment, restartProbes, stopProbes } from '../../lab/deployer/deploy';
import {
  kill9Trial,
  labStore,
  pauseShortTrial,
  switchoverTrial,
  waitForExecution,
  waitForRun,
} from '../../lab/drills/scenarios';
import type { Lab } from '../../lab/world/index';
import { nodeDataDir, nodeLogFile } from '../../lab/world/paths';
import { LAB_CA_FILE } from '../../lab/world/tls';
import { LAB_CLUSTER, LAB_DB_PASSWORD, LAB_DB_USER, LAB_REPL_USER } from '../../lab/world/topology';
import { pauseLease, resumeLease } from '../../lambdas/core/lease';
import type { Lease } from '../../lambdas/core/types';
import { buildCli } from '../cli/fixtures';
import { useDeployedLab } from './fixtures';

/**
 * The product end to end on the lab: the synthesized state machine and the
 * bundled handlers, deployed into the emulator, driving real PostgreSQL.
 * Timing targets live in `npm run bench`; these assert outcomes.
 */
let lab: Lab;
let d: LabDeployment;
/** Set by the kill -9 failover; the no-DNS client test connects to it. */
let newPrimary: string | undefined;

useDeployedLab({ probeRunMs: 170000, startProbes: true }, (x) => {
  ({ lab, d } = x);
});

/**
 * The reader record as the lab's resolver endpoint sees it, once it equals `expected`: settle-rejoin changes it
 * at the end of the run, and under the aws profile a change is seen only after Route 53 propagation plus the
 * TTL, as a VPC resolver would. Returns the last view after 20 s otherwise (the assertion shows it).
 */
async function readerSeen(expected: string[]): Promise<string[]> {
  const deadline = Date.now() + 20000;
  for (;;) {
    const seen = [...(await lab.status()).reader].sort();
    if (JSON.stringify(seen) === JSON.stringify(expected) || Date.now() > deadline) return seen;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The baseline cluster again (pg1 primary, all healthy), then a few probe rounds so every AZ votes "up". The probe
 * loops are ended first and started afresh after: a reset that rebuilds pg1 while probes run looks to them like a
 * dead primary under a steady lease, and the failover they start broke the next drill (the switchover, seen under
 * load), exactly as the bench avoids by restarting probes between trials.
 */
async function freshCluster(settleMs: number): Promise<void> {
  await stopProbes(d);
  await lab.reset();
  await restartProbes(d);
  await new Promise((r) => setTimeout(r, settleMs));
}

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
      'fence-quorum',
      'fence-quorum-detach',
      'verify-fence',
      'promote',
      'repoint',
      'flip-dns',
      'commit',
    ]) {
      expect(steps).toContain(s);
    }
    // DNS off the write path: the records are flipped after the re-point, and INSYNC is recorded after the commit.
    expect(steps.indexOf('flip-dns')).toBeGreaterThan(steps.indexOf('repoint'));
    expect(steps.indexOf('flip-dns')).toBeLessThan(steps.indexOf('commit'));
    // The writer's and the reader's changes propagate in independent draws: either may report INSYNC first.
    expect(t.event!.timeline.filter((s) => s.step === 'dns-insync').map((s) => s.detail)).toContainEqual(
      expect.stringMatching(/^writer record INSYNC at \+\d/),
    );
    newPrimary = t.newPrimary ?? undefined;
    // Sync mode fences by quorum without waiting for the SSM stop; the rejoin records that the stop landed.
    expect(t.event!.timeline.filter((s) => s.step === 'fence-stop-result').map((s) => s.detail)).toEqual([
      expect.stringMatching(/^pg1: PostgreSQL stopped by the fence's SSM command /),
    ]);
    // Rejoin: the old primary streams from the new one again, without a full copy.
    expect(t.event!.rejoin).toMatch(/pg1 streams from pg[23] again \(pg_rewind\)/);
    const st = await lab.status();
    const pg1 = st.nodes.find((n) => n.name === 'pg1')!;
    expect(pg1.role).toBe('replica');
    expect(pg1.upstream).toBe(t.newPrimary);
    expect(st.writer).toEqual([t.newPrimary]);
    // Settled outside the VPC: the rejoined node is back behind the reader record and healthy in the registry.
    const readers = ['pg1', 'pg2', 'pg3'].filter((n) => n !== t.newPrimary);
    expect(await readerSeen(readers)).toEqual(readers);
    expect((await labStore().listNodes()).find((n) => n.name === 'pg1')?.status).toBe('healthy');
    const lease = await labStore().getLease();
    expect(lease).toMatchObject({ state: 'steady', primary: t.newPrimary, epoch: 2 });
  }, 180000);
});

describe('a client path that needs no DNS', () => {
  it('psql through `pgquorum connstr` reaches the new primary after the failover', () => {
    expect(newPrimary).toBeDefined();
    buildCli();
    const root = path.resolve(__dirname, '..', '..');
    const env = { ...process.env, ...lab.awsEnv, PGPASSWORD: LAB_DB_PASSWORD };
    const cli = spawnSync(
      process.execPath,
      [path.join(root, 'bin', 'pgquorum.js'), 'connstr', '--user', LAB_DB_USER, '--json'],
      { cwd: root, env, encoding: 'utf8', timeout: 60000 },
    );
    expect(cli.stderr).toBe('');
    const { connstr, hosts } = JSON.parse(cli.stdout) as { connstr: string; hosts: { name: string }[] };
    // The lab's mode and CA file: psql below verifies the node's certificate, as the controller does.
    expect(connstr).toContain(`sslmode=verify-full sslrootcert=${LAB_CA_FILE}`);
    // Every node is listed, the new primary first; pg1 (rejoined as a replica) is among the fallbacks.
    expect(hosts.map((h) => h.name)[0]).toBe(newPrimary);
    expect(hosts.map((h) => h.name).sort()).toEqual(['pg1', 'pg2', 'pg3']);
    const psql = spawnSync(
      '/usr/lib/postgresql/15/bin/psql',
      [connstr, '-XAtc', "SELECT pg_is_in_recovery(), current_setting('cluster_name')"],
      { env, encoding: 'utf8', timeout: 30000 },
    );
    expect(psql.stderr).toBe('');
    // The lab names each server's cluster_name after its node: the string landed on the new primary, writable.
    expect(psql.stdout.trim()).toBe(`f|${newPrimary}`);
  });
});

describe('no false failover', () => {
  beforeAll(() => freshCluster(4000), 60000);

  it('a primary paused for less than the detection window is not failed over', async () => {
    const r = await pauseShortTrial(lab, d, 1500);
    expect(r.failoverStarted).toBe(false);
    expect(r.epochAfter).toBe(r.epochBefore);
  }, 60000);
});

describe('planned switchover', () => {
  beforeAll(() => freshCluster(4000), 60000);

  it('switches to a named replica with zero acknowledged writes lost, the old primary following', async () => {
    const t = await switchoverTrial(lab, d, 'pg3');
    expect({ status: t.executionStatus, cause: t.cause }).toEqual({ status: 'SUCCEEDED', cause: undefined });
    expect(t.newPrimary).toBe('pg3');
    expect(t.lostAcknowledged).toEqual([]);
    expect(t.ackedWrites).toBeGreaterThan(10);
    expect(t.event?.rejoin).toMatch(/pg1 streams from pg3 \(no rewind needed\)/);
    const st = await lab.status();
    expect(st.nodes.find((n) => n.name === 'pg1')).toMatchObject({ role: 'replica', upstream: 'pg3' });
    expect(st.nodes.find((n) => n.name === 'pg2')).toMatchObject({ role: 'replica', upstream: 'pg3' });
    expect(await readerSeen(['pg1', 'pg2'])).toEqual(['pg1', 'pg2']);
  }, 120000);
});

describe('the state machine refuses bad input itself, with nothing changed', () => {
  beforeAll(() => freshCluster(4000), 60000);

  /** Starts the deployed state machine directly (as the console would), returns how it ended and the lease after. */
  async function startRaw(input: object): Promise<{ status: string; error?: string; cause?: string; lease: Lease }> {
    const sfn = new SFNClient({});
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: d.stateMachineArn,
        name: `e2e-refusal-${Date.now()}`,
        input: JSON.stringify({ cluster: LAB_CLUSTER, reason: 'e2e refusal', ...input }),
      }),
    );
    const x = await waitForExecution(executionArn!, { runTimeoutMs: 60000 });
    return { status: x.status, error: x.error, cause: x.cause, lease: await labStore().getLease() };
  }

  it.each([
    [{ mode: 'switchover', target: 'pg9' }, /unknown target 'pg9' \(nodes: pg1, pg2, pg3\)/],
    [{ mode: 'switchover', target: 'pg1' }, /target pg1 is already the primary/],
    [{ mode: 'failover', target: 'pg2' }, /failover --to NODE needs --force/],
    [{ mode: 'switchover', cluster: 'other' }, /this controller manages cluster 'lab', not 'other'/],
  ])(
    '%j is rejected (%s)',
    async (input, cause) => {
      const before = await labStore().getLease();
      const r = await startRaw(input);
      expect(r).toMatchObject({ status: 'FAILED', error: 'PgQuorum.InputRejected' });
      expect(r.cause).toMatch(cause);
      expect(r.lease).toEqual(before);
    },
    90000,
  );

  // An unforced failover (what the probes start); an operator's forced one may run while paused (issue 13).
  it('refuses a failover of a paused cluster', async () => {
    const store = labStore();
    const lease = await store.getLease();
    const paused = pauseLease(lease, { now: Date.now(), reason: 'e2e: maintenance' });
    if (!paused.ok) throw new Error(paused.reason);
    await store.putLease(paused.lease, { epoch: lease.epoch, state: lease.state });
    // As stored (with the store's write counter): the refused run must leave exactly this.
    const stored = await store.getLease();
    try {
      const r = await startRaw({ mode: 'failover' });
      expect(r).toMatchObject({ status: 'FAILED', error: 'PgQuorum.InputRejected' });
      expect(r.cause).toMatch(/failover refused: .*paused/);
      expect(r.lease).toEqual(stored);
    } finally {
      const now = await store.getLease();
      const resumed = resumeLease(now, { now: Date.now(), reason: 'e2e: done' });
      if (resumed.ok) await store.putLease(resumed.lease, { epoch: now.epoch, state: now.state });
    }
  }, 90000);

  it('refuses any run while another holds the lease', async () => {
    const store = labStore();
    const lease = await store.getLease();
    const held: Lease = { ...lease, state: 'switching-over', holder: 'another-run', leaseUntil: Date.now() + 60000 };
    await store.putLease(held, { epoch: lease.epoch, state: lease.state });
    const stored = await store.getLease();
    try {
      const r = await startRaw({ mode: 'switchover', target: 'pg2' });
      expect(r).toMatchObject({ status: 'FAILED', error: 'PgQuorum.InputRejected' });
      expect(r.cause).toMatch(/lease held by another-run \(switching-over, epoch \d+\)/);
      expect(r.lease).toEqual(stored);
    } finally {
      await store.putLease(lease, { epoch: held.epoch, state: held.state });
    }
  }, 90000);

  it('refuses a switchover to a replica that is not streaming and lags', async () => {
    const pg2 = new Client(lab.nodeConnection('pg2'));
    const primary = new Client(lab.nodeConnection('pg1'));
    await pg2.connect();
    await primary.connect();
    try {
      // pg2's WAL receiver stops (no upstream), then the primary writes past maxLagBytes (16 MiB) without it.
      await pg2.query(`ALTER SYSTEM SET primary_conninfo = ''`);
      await pg2.query('SELECT pg_reload_conf()');
      await primary.query('CREATE TABLE IF NOT EXISTS e2e_lag (x text)');
      await primary.query(`INSERT INTO e2e_lag SELECT repeat('x', 2000) FROM generate_series(1, 12000)`);
      // A few probe rounds, so the votes show pg2 behind.
      await new Promise((r) => setTimeout(r, 4000));
      const before = await labStore().getLease();
      const r = await startRaw({ mode: 'switchover', target: 'pg2' });
      expect(r).toMatchObject({ status: 'FAILED', error: 'PgQuorum.InputRejected' });
      expect(r.cause).toMatch(
        /switchover refused: target pg2 is not eligible: not streaming.*lags \d+ bytes, more than maxLagBytes 16777216/,
      );
      expect(r.lease).toEqual(before);
    } finally {
      await pg2.end();
      await primary.end();
    }
  }, 90000);
});

describe('rejoin falls back to a re-clone when pg_rewind cannot work', () => {
  beforeAll(() => freshCluster(3000), 60000);

  it('a node whose WAL is gone is re-cloned with pg_basebackup, its old data kept aside, and streams again', async () => {
    // pg3 crashes and loses its WAL (recycled, or a broken volume): neither crash recovery nor pg_rewind can run.
    await lab.kill('pg3');
    const data = nodeDataDir('pg3');
    const wal = path.join(data, 'pg_wal');
    for (const f of fs.readdirSync(wal)) if (/^[0-9A-F]{24}$/.test(f)) fs.rmSync(path.join(wal, f));
    const lease = await labStore().getLease();
    const state = {
      input: { mode: 'failover', cluster: LAB_CLUSTER, reason: 'e2e: rejoin after WAL loss' },
      epoch: lease.epoch,
      oldPrimary: 'pg3',
      candidate: lease.primary,
      newTimeline: 1,
    };
    // The source logs each new session for this run only: pg_basebackup's must be the replication role over TLS.
    const logConnections = async (node: string, on: boolean) => {
      const c = new Client(lab.directConnection(node));
      await c.connect();
      try {
        await c.query(on ? 'ALTER SYSTEM SET log_connections = on' : 'ALTER SYSTEM RESET log_connections');
        await c.query('SELECT pg_reload_conf()');
      } finally {
        await c.end();
      }
    };
    const sourceLog = nodeLogFile(lease.primary);
    const logFrom = fs.statSync(sourceLog).size;
    await logConnections(lease.primary, true);
    let r: InvokeCommandOutput;
    try {
      r = await new LambdaClient({}).send(
        new InvokeCommand({
          FunctionName: d.functionNames['rejoin-old-primary'],
          Payload: Buffer.from(JSON.stringify({ state })),
        }),
      );
    } finally {
      // The re-clone copied the source's postgresql.auto.conf, setting included.
      await logConnections(lease.primary, false);
      await logConnections('pg3', false).catch(() => undefined);
    }
    const out = JSON.parse(Buffer.from(r.Payload!).toString('utf8')) as { rejoin?: string };
    expect(r.FunctionError ? Buffer.from(r.Payload!).toString('utf8') : undefined).toBeUndefined();
    expect(out.rejoin).toMatch(/^pg3 streams from pg1 again \(re-clone \(pg_rewind failed/);
    // (The lab's pg_hba refuses this role without TLS; the log also says the session used it.)
    expect(fs.readFileSync(sourceLog, 'utf8').slice(logFrom)).toMatch(
      new RegExp(`replication connection authorized: user=${LAB_REPL_USER} application_name=pg_basebackup SSL enabled`),
    );
    const st = await lab.status();
    expect(st.nodes.find((n) => n.name === 'pg3')).toMatchObject({ role: 'replica', upstream: 'pg1' });
    // The damaged data directory is kept for forensics, never deleted by the script.
    const aside = fs.readdirSync(path.dirname(data)).filter((f) => f.startsWith('data.pre-reclone.'));
    expect(aside).toHaveLength(1);
    fs.rmSync(path.join(path.dirname(data), aside[0]!), { recursive: true, force: true });
    expect((await labStore().listNodes()).find((n) => n.name === 'pg3')?.status).toBe('healthy');
  }, 180000);
});

describe('probe loops', () => {
  it('a stopped probe loop stays stopped: no asynchronous retry brings it back beside the next one', async () => {
    const seqs = async () => Object.fromEntries((await labStore().getVotes()).map((v) => [v.az, v.seq]));
    await restartProbes(d);
    await new Promise((r) => setTimeout(r, 3000));
    const running = await seqs();
    await stopProbes(d);
    // Lambda retries a failed asynchronous invocation after 1 s, then 2 s (ministack's scaled-down backoff).
    await new Promise((r) => setTimeout(r, 5000));
    const stopped = await seqs();
    await new Promise((r) => setTimeout(r, 4000));
    expect(await seqs()).toEqual(stopped);
    expect(Object.keys(running)).toHaveLength(3);
    await restartProbes(d);
  }, 60000);
});

describe('a promotion left behind by an aborted run', () => {
  /** pg1 dies while the cluster is paused and pg2 ends up promoted, as when a run's pg_promote completes after its abort. */
  async function leftBehindPromotion(abortedRunChose: string | undefined): Promise<number> {
    await freshCluster(3000);
    const store = labStore();
    const lease = await store.getLease();
    const paused = pauseLease(lease, { now: Date.now(), reason: 'e2e: the aborted run' });
    if (!paused.ok) throw new Error(paused.reason);
    await store.putLease(paused.lease, { epoch: lease.epoch, state: lease.state });
    await lab.kill('pg1');
    const pg2 = new Client(lab.nodeConnection('pg2'));
    await pg2.connect();
    await pg2.query('SELECT pg_promote(true, 30)');
    await pg2.end();
    if (abortedRunChose) {
      await store.startEvent({
        epoch: lease.epoch,
        kind: 'failover',
        startedAt: Date.now(),
        outcome: 'aborted',
        oldPrimary: 'pg1',
        candidate: abortedRunChose,
        reason: 'e2e: promote timed out, run aborted',
        timeline: [],
      });
    }
    // Probe rounds that see pg2 as a primary, then the operator resumes and the probes fail over on their own.
    await new Promise((r) => setTimeout(r, 2500));
    const now = await store.getLease();
    const resumed = resumeLease(now, { now: Date.now(), reason: 'e2e: resume after the abort' });
    if (!resumed.ok) throw new Error(resumed.reason);
    const t0 = Date.now();
    await store.putLease(resumed.lease, { epoch: now.epoch, state: now.state });
    return t0;
  }

  it('the next failover adopts it instead of promoting a second primary', async () => {
    const t0 = await leftBehindPromotion('pg2');
    const run = await waitForRun(d, t0, { startTimeoutMs: 20000, runTimeoutMs: 90000 });
    expect(run?.status).toBe('SUCCEEDED');
    const store = labStore();
    const lease = await store.getLease();
    expect(lease).toMatchObject({ state: 'steady', primary: 'pg2' });
    const ev = await store.getEvent(lease.epoch);
    expect(ev?.timeline.find((s) => s.step === 'select-candidate')?.detail).toMatch(
      /^adopting pg2: the run at epoch \d+ promoted it/,
    );
    const st = await lab.status();
    expect(st.writer).toEqual(['pg2']);
    expect(st.nodes.find((n) => n.name === 'pg3')).toMatchObject({ role: 'replica', upstream: 'pg2' });
  }, 120000);

  it('a primary no run chose stops the failover: nothing promoted, nothing flipped, an operator decides', async () => {
    const t0 = await leftBehindPromotion(undefined);
    const run = await waitForRun(d, t0, { startTimeoutMs: 20000, runTimeoutMs: 90000 });
    expect(run?.status).toBe('FAILED');
    const lease = await labStore().getLease();
    expect(lease.state).toBe('needs-attention');
    expect(lease.reason).toMatch(/refusing to promote a second primary: pg2 is already primary/);
    const st = await lab.status();
    expect(st.writer).toEqual(['pg1']);
    expect(st.nodes.find((n) => n.name === 'pg3')?.role).toBe('replica');
  }, 120000);
});

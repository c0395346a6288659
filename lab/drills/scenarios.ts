/**
 * Drill scenarios on the lab, shared by the end-to-end tests, `npm run demo`
 * and `npm run bench`. Each returns measured facts; callers decide what to
 * assert (tests) or report (bench). Timing lives here as figures, never as
 * assertions.
 */

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeExecutionCommand,
  type ExecutionListItem,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { TaskName } from '../../infra/constructs/tasks';
import { DynamoStore } from '../../lambdas/adapters/aws/dynamo-store';
import { compareLsn } from '../../lambdas/core/lsn';
import type { EventRecord } from '../../lambdas/ports/store-port';
import type { LabDeployment } from '../deployer/deploy';
import type { Lab } from '../world/index';
import { LAB_CLUSTER, LAB_TABLE } from '../world/topology';
import { LoadGenerator, type LoadReport, lostAcknowledged } from './load';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The controller's store, read the way the CLI reads it. */
export function labStore(): DynamoStore {
  return new DynamoStore(new DynamoDBClient({}), LAB_TABLE, LAB_CLUSTER);
}

/** Executions started at or after `since`. */
export async function executionsSince(d: LabDeployment, since: number): Promise<ExecutionListItem[]> {
  const r = await new SFNClient({}).send(
    new ListExecutionsCommand({ stateMachineArn: d.stateMachineArn, maxResults: 100 }),
  );
  return (r.executions ?? []).filter((e) => (e.startDate?.getTime() ?? 0) >= since - 1000);
}

/** How an execution ended, or where it stood when the wait ran out. */
export interface RunResult {
  name: string;
  status: string;
  started: number;
  stopped: number;
  error?: string;
  cause?: string;
}

/** Waits for one execution to leave RUNNING (or for `runTimeoutMs`, returning it as it stands). */
export async function waitForExecution(
  executionArn: string,
  opts: { runTimeoutMs?: number; onTick?: () => Promise<void> } = {},
): Promise<RunResult> {
  const sfn = new SFNClient({});
  const runBy = Date.now() + (opts.runTimeoutMs ?? 120000);
  for (;;) {
    await opts.onTick?.();
    const x = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (x.status !== 'RUNNING' || Date.now() > runBy) {
      return {
        name: x.name!,
        status: x.status ?? 'UNKNOWN',
        started: x.startDate!.getTime(),
        stopped: x.stopDate?.getTime() ?? Date.now(),
        ...(x.error ? { error: x.error } : {}),
        ...(x.cause ? { cause: x.cause } : {}),
      };
    }
    await sleep(100);
  }
}

/**
 * How long a drill waits for a run to finish: 2 minutes, plus room for the Route 53 waits a run makes under the
 * lab's profile (FlipDns waits for the writer and the reader record, settle-rejoin for the reader again).
 */
export function runTimeoutFor(lab: Lab): number {
  return 120000 + 4 * lab.cloud.route53Propagation.maxMs;
}

/** Waits for the first execution started after `since` to finish; undefined when none started in time. */
export async function waitForRun(
  d: LabDeployment,
  since: number,
  opts: { startTimeoutMs?: number; runTimeoutMs?: number; onTick?: () => Promise<void> } = {},
): Promise<RunResult | undefined> {
  const startBy = Date.now() + (opts.startTimeoutMs ?? 20000);
  let exec: ExecutionListItem | undefined;
  while (!exec) {
    await opts.onTick?.();
    exec = (await executionsSince(d, since)).sort((a, b) => a.startDate!.getTime() - b.startDate!.getTime())[0];
    if (!exec) {
      if (Date.now() > startBy) return undefined;
      await sleep(100);
    }
  }
  return waitForExecution(exec.executionArn!, opts);
}

/** Result of one unplanned-failover trial. */
export interface FailoverTrial {
  scenario: string;
  /** `unfinished`: the run was still RUNNING when the drill stopped waiting (runTimeoutFor). */
  outcome: 'failover' | 'no-failover' | 'failed' | 'unfinished';
  execution?: string;
  executionStatus?: string;
  /** Why the run failed, as the execution reports it. */
  cause?: string;
  /** Fault to first acknowledged write through the writer endpoint (ms). */
  rtoMs: number | null;
  /** Fault to first acknowledged write of a client on every node's address (libpq multi-host, read-write) (ms). */
  rtoDirectMs?: number | null;
  /** Acknowledged writes of that client missing on the new primary. */
  lostDirect?: number[];
  /** How long Route 53 took to propagate the writer change of this run (the lab's draw) (ms). */
  writerPropagationMs?: number | null;
  /** Fault to the execution's start (detection + quorum + trigger) (ms). */
  detectMs: number | null;
  ackedWrites: number;
  lostAcknowledged: number[];
  bytesAtRisk: string | null;
  newPrimary: string | null;
  event?: EventRecord;
  load: Omit<LoadReport, 'acked'>;
  /** Every acknowledged write (id, time), for checks beyond the new primary's (the retry drills read them back). */
  acked?: LoadReport['acked'];
  /** When no run started: what each AZ's vote and the lease said at the end, to tell why. */
  noStart?: { lease: string; votes: string[] };
}

/** One line per AZ vote (sequence, verdict, failure count, age) and the lease: why a run did or did not start. */
export async function quorumSnapshot(store: DynamoStore): Promise<{ lease: string; votes: string[] }> {
  const [lease, votes] = await Promise.all([store.getLease(), store.getVotes()]);
  const now = Date.now();
  return {
    lease: `epoch ${lease.epoch} ${lease.state} primary ${lease.primary} holder ${lease.holder ?? '-'} updated ${now - lease.updatedAt} ms ago`,
    votes: votes.map(
      (v) =>
        `${v.az} seq ${v.seq} about ${v.primary} ${v.primaryOk ? 'up' : 'DOWN'} x${v.consecutiveFailures}, ${now - v.observedAt} ms old`,
    ),
  };
}

/**
 * The first write acknowledged after the run started (ms), else after the fault. A write in flight at the fault
 * can still be acknowledged by the old primary: the first write of the new primary cannot come before the run
 * that promotes it has started.
 */
function firstAckAfterRun(report: LoadReport, run: RunResult | undefined, faultAt: number): number | undefined {
  return report.acked.find((a) => a.at > (run?.started ?? faultAt))?.at;
}

/**
 * What a fault trial ended with: the lease and run outcome, every acknowledged
 * write read back from the new primary, and the run's event. `firstWriteAt` is
 * the new primary's first acknowledged write (the end of the RTO); undefined: the
 * load's first acknowledgement after the run started (`firstAckAfterRun`).
 */
async function failoverOutcome(
  lab: Lab,
  store: DynamoStore,
  t: {
    scenario: string;
    oldPrimary: string;
    run: RunResult | undefined;
    faultAt: number;
    firstWriteAt?: number | null;
    report: LoadReport;
    table: string;
    /** The DNS-free client's load, when the trial ran one. */
    direct?: { report: LoadReport; table: string };
  },
): Promise<FailoverTrial> {
  const firstWriteAt =
    t.firstWriteAt !== undefined ? t.firstWriteAt : (firstAckAfterRun(t.report, t.run, t.faultAt) ?? null);
  const lease = await store.getLease();
  const newPrimary = lease.primary !== t.oldPrimary ? lease.primary : null;
  const event = t.run ? await store.getEvent(lease.epoch) : undefined;
  const lost = newPrimary ? await lostAcknowledged(lab.nodeConnection(lease.primary), t.table, t.report.acked) : [];
  const direct = t.direct;
  const lostDirect =
    newPrimary && direct
      ? await lostAcknowledged(lab.nodeConnection(lease.primary), direct.table, direct.report.acked)
      : [];
  const directAck = direct ? firstAckAfterRun(direct.report, t.run, t.faultAt) : undefined;
  const writerChange = (await lab.awsProxy().catch(() => undefined))?.route53Changes.find(
    (c) => c.submittedAt >= t.faultAt && Object.keys(c.records).some((n) => n.startsWith('writer.')),
  );
  const { acked, ...rest } = t.report;
  return {
    scenario: t.scenario,
    outcome:
      t.run?.status === 'SUCCEEDED' && newPrimary
        ? 'failover'
        : t.run?.status === 'RUNNING'
          ? 'unfinished'
          : t.run
            ? 'failed'
            : 'no-failover',
    ...(t.run
      ? { execution: t.run.name, executionStatus: t.run.status, ...(t.run.cause ? { cause: t.run.cause } : {}) }
      : {}),
    rtoMs: firstWriteAt !== null && newPrimary ? firstWriteAt - t.faultAt : null,
    ...(direct
      ? { rtoDirectMs: directAck !== undefined && newPrimary ? directAck - t.faultAt : null, lostDirect }
      : {}),
    writerPropagationMs: writerChange ? writerChange.visibleAt - writerChange.submittedAt : null,
    detectMs: t.run ? t.run.started - t.faultAt : null,
    ackedWrites: acked.length,
    lostAcknowledged: lost,
    bytesAtRisk: event?.bytesAtRisk ?? null,
    newPrimary,
    ...(event ? { event } : {}),
    load: rest,
    acked,
  };
}

/**
 * kill -9 of the primary under write load. Measures RTO (kill to the first
 * acknowledged write through the writer endpoint), reads every acknowledged id
 * back from the new primary, and collects the run's event record. (A SIGSTOPped
 * primary is pauseLongTrial: the one pause-long drill, with a held session.)
 */
export async function kill9Trial(
  lab: Lab,
  d: LabDeployment,
  opts: {
    warmupMs?: number;
    onProgress?: (m: string) => void;
    /** Black-hole the old primary's replication path this long before the kill, so async replicas fall behind. */
    replicationCutMs?: number;
    /** How long to wait after the run for a first acknowledged write (a drill expecting none waits less) (ms). */
    ackWaitMs?: number;
    /** How long to wait for a run to start after the kill (ms; default 20 s). */
    startTimeoutMs?: number;
    /** How long to wait for the run to end (ms; default runTimeoutFor(lab)). */
    runTimeoutMs?: number;
    /** Also run the DNS-free client (every node's address; default true): the demo runs the writer's load alone. */
    directClient?: boolean;
    /** Called after the warm-up, just before the kill, with the writer endpoint's load (the demo's narration). */
    beforeFault?: (primary: string, load: LoadGenerator) => void;
    /** Called right after the kill. */
    onFault?: (primary: string, faultAt: number) => void;
    /**
     * Kill this many replicas (the last in name order) before the primary: a double fault. The fence's quorum then
     * cannot be proven without them, and with quorum sync the new primary commits again only once the old one rejoins.
     */
    replicasDown?: number;
    /** Called on every poll from the kill until the first acknowledged write after the run (or the wait's end). */
    onTick?: (load: LoadGenerator) => Promise<void>;
  } = {},
): Promise<FailoverTrial> {
  const store = labStore();
  const say = opts.onProgress ?? (() => undefined);
  const oldPrimary = (await store.getLease()).primary;
  const load = new LoadGenerator(lab.endpointConnection('writer'));
  await load.prepare();
  const direct = opts.directClient === false ? undefined : directLoad(lab);
  await direct?.prepare();
  load.start();
  direct?.start();
  await sleep(opts.warmupMs ?? 2500);
  if (opts.replicationCutMs) {
    await lab.cut(oldPrimary, 'repl', 'blackhole');
    await sleep(opts.replicationCutMs);
  }
  const replicas = lab.nodeNames.filter((n) => n !== oldPrimary);
  const down = opts.replicasDown ? replicas.slice(-opts.replicasDown) : [];
  for (const n of down) await lab.kill(n);
  // With one replica gone, ANY 1 runs on the other: let commits show it before the second fault.
  if (down.length) await sleep(2000);
  opts.beforeFault?.(oldPrimary, load);
  const faultAt = Date.now();
  await lab.kill(oldPrimary);
  say(`kill -9 ${oldPrimary} at ${new Date(faultAt).toISOString()}`);
  opts.onFault?.(oldPrimary, faultAt);
  const onTick = opts.onTick;
  const run = await waitForRun(d, faultAt, {
    startTimeoutMs: opts.startTimeoutMs ?? 20000,
    runTimeoutMs: opts.runTimeoutMs ?? runTimeoutFor(lab),
    ...(onTick ? { onTick: () => onTick(load) } : {}),
  });
  // Keep writing until the first acknowledged write after the fault (or give up).
  const ackBy = Date.now() + (opts.ackWaitMs ?? 20000);
  const after = run?.started ?? faultAt;
  while ((!load.firstAckAfter(after) || (direct && !direct.firstAckAfter(after))) && Date.now() < ackBy) {
    if (onTick) await onTick(load);
    await sleep(50);
  }
  await sleep(500);
  const report = await load.stop();
  const directReport = await direct?.stop();
  if (opts.replicationCutMs) await lab.heal(oldPrimary, 'repl');
  const outcome = await failoverOutcome(lab, store, {
    scenario: 'kill9',
    oldPrimary,
    run,
    faultAt,
    report,
    table: load.table,
    ...(direct && directReport ? { direct: { report: directReport, table: direct.table } } : {}),
  });
  return {
    ...outcome,
    ...(run ? {} : { noStart: await quorumSnapshot(store) }),
  };
}

/**
 * A client that needs no DNS: every node's address in one multi-host list, read-write, as an application
 * using `pgquorum connstr` connects (the list as printed before the fault: pg1 first).
 */
function directLoad(lab: Lab): LoadGenerator {
  return new LoadGenerator(
    lab.nodeNames.map((n) => lab.nodeConnection(n)),
    { table: 'pgq_load_direct' },
  );
}

/** A primary paused for less than the detection window must not be failed over. */
export async function pauseShortTrial(
  lab: Lab,
  d: LabDeployment,
  pauseMs = 1500,
): Promise<{ failoverStarted: boolean; epochBefore: number; epochAfter: number }> {
  const store = labStore();
  const before = await store.getLease();
  const t0 = Date.now();
  await lab.stop(before.primary);
  await sleep(pauseMs);
  await lab.cont(before.primary);
  // Wait out a full detection window and then some.
  await sleep(6000);
  const after = await store.getLease();
  return {
    failoverStarted: (await executionsSince(d, t0)).length > 0,
    epochBefore: before.epoch,
    epochAfter: after.epoch,
  };
}

/** Result of a planned switchover. */
export interface SwitchoverTrial {
  executionStatus: string;
  cause?: string;
  newPrimary: string;
  writePauseMs: number;
  ackedWrites: number;
  lostAcknowledged: number[];
  event?: EventRecord;
}

/** Planned switchover through the state machine under write load. */
export async function switchoverTrial(lab: Lab, d: LabDeployment, target?: string): Promise<SwitchoverTrial> {
  const store = labStore();
  const load = new LoadGenerator(lab.endpointConnection('writer'));
  await load.prepare();
  load.start();
  await sleep(1500);
  const t0 = Date.now();
  const { executionArn } = await new SFNClient({}).send(
    new StartExecutionCommand({
      stateMachineArn: d.stateMachineArn,
      name: `lab-switchover-${t0}`,
      input: JSON.stringify({
        mode: 'switchover',
        cluster: LAB_CLUSTER,
        ...(target ? { target } : {}),
        reason: 'drill: planned switchover',
      }),
    }),
  );
  const run = await waitForExecution(executionArn!, { runTimeoutMs: runTimeoutFor(lab) });
  const ackBy = Date.now() + 15000;
  while (!load.firstAckAfter(run?.stopped ?? Date.now()) && Date.now() < ackBy) await sleep(50);
  await sleep(300);
  const report = await load.stop();
  const lease = await store.getLease();
  const lost = await lostAcknowledged(lab.nodeConnection(lease.primary), load.table, report.acked);
  return {
    executionStatus: run?.status ?? 'NOT-STARTED',
    ...(run?.cause ? { cause: run.cause } : {}),
    newPrimary: lease.primary,
    writePauseMs: report.maxGapMs,
    ackedWrites: report.acked.length,
    lostAcknowledged: lost,
    event: await store.getEvent(lease.epoch),
  };
}

/** Outcome of a no-failover drill (a fault that must NOT cause a failover). */
export interface NoFailoverTrial {
  scenario: string;
  falseFailover: boolean;
  epochBefore: number;
  epochAfter: number;
  detail: string;
}

/** Waits until every probe AZ has a fresh "up" vote about the lease's primary. */
export async function waitForHealthyVotes(timeoutMs = 20000): Promise<void> {
  const store = labStore();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [lease, votes] = await Promise.all([store.getLease(), store.getVotes()]);
    const fresh = votes.filter((v) => Date.now() - v.observedAt < 2500 && v.primaryOk && v.primary === lease.primary);
    if (fresh.length >= 3) return;
    if (Date.now() > deadline)
      throw new Error(`probes did not report ${lease.primary} healthy from 3 AZs within ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** One probe AZ cut off from the primary for `holdMs`: no failover (invariant 2). */
export async function azCutTrial(lab: Lab, d: LabDeployment, holdMs = 10000): Promise<NoFailoverTrial> {
  const store = labStore();
  const before = await store.getLease();
  const t0 = Date.now();
  await lab.cut(before.primary, 'az-b');
  await sleep(holdMs);
  const votes = await store.getVotes();
  await lab.heal(before.primary, 'az-b');
  const after = await store.getLease();
  const b = votes.find((v) => v.az.endsWith('b'));
  return {
    scenario: 'az-cut',
    falseFailover: (await executionsSince(d, t0)).length > 0 || after.epoch !== before.epoch,
    epochBefore: before.epoch,
    epochAfter: after.epoch,
    detail: `az b voted ${b?.primaryOk ? 'up' : `down (${b?.consecutiveFailures} failures)`} while cut; the other AZs kept the quorum "up"`,
  };
}

/** The AWS endpoint unreachable (emulator frozen) for `holdMs` with a healthy primary: fail static, then recover. */
export async function emulatorDownTrial(
  lab: Lab,
  d: LabDeployment,
  holdMs = 10000,
): Promise<NoFailoverTrial & { votesStaleDuringOutage: boolean; recovered: boolean }> {
  const store = labStore();
  const before = await store.getLease();
  const t0 = Date.now();
  await lab.emulatorPause(true);
  await sleep(holdMs);
  await lab.emulatorPause(false);
  // What the probes-silent alarm sees on AWS: no vote was written during the outage.
  const votes = await store.getVotes();
  const stale = votes.every((v) => v.observedAt < t0 + 1000 || v.observedAt > t0 + holdMs - 500);
  let recovered = false;
  try {
    await waitForHealthyVotes(15000);
    recovered = true;
  } catch {
    recovered = false;
  }
  const after = await store.getLease();
  return {
    scenario: 'emulator-down',
    falseFailover: (await executionsSince(d, t0)).length > 0 || after.epoch !== before.epoch,
    epochBefore: before.epoch,
    epochAfter: after.epoch,
    votesStaleDuringOutage: stale,
    recovered,
    detail: `no vote written during the ${holdMs} ms outage: ${stale}; probes voting again afterwards: ${recovered}`,
  };
}

/**
 * Commits through a session held to the old primary since before the fault,
 * one statement at a time (a commit waiting for a synchronous standby that is
 * gone simply never returns: that is "not acknowledged"). Returns the times of
 * acknowledged commits.
 */
async function hammerHeldSession(
  lab: Lab,
  node: string,
  until: () => boolean,
): Promise<{ acks: number[]; attempts: number }> {
  const { Client } = await import('pg');
  const c = new Client({ ...lab.nodeConnection(node), connectionTimeoutMillis: 2000 });
  c.on('error', () => undefined);
  const acks: number[] = [];
  let attempts = 0;
  let warned = false;
  c.on('notice', (n: { message?: string }) => {
    if (/synchronous replication|committed locally/i.test(n.message ?? '')) warned = true;
  });
  try {
    await c.connect();
    await c.query('CREATE TABLE IF NOT EXISTS pgq_split (at timestamptz)');
  } catch {
    return { acks, attempts };
  }
  let dead = false;
  while (!until() && !dead) {
    attempts++;
    warned = false;
    // The server's commit time, not the client's receipt: a commit made before the fault whose answer sat in a
    // frozen or black-holed path reaches the client only when the host comes back, and is no split brain.
    let committedAt = 0;
    const q = c
      .query(
        'INSERT INTO pgq_split VALUES (clock_timestamp()) RETURNING (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS at',
      )
      .then(
        (r) => {
          committedAt = Number(r.rows[0]?.at ?? Date.now());
          return warned ? 'unacknowledged' : 'ack';
        },
        () => 'error',
      );
    let outcome: string | undefined;
    while (!outcome && !until()) outcome = await Promise.race([q, sleep(200).then(() => undefined)]);
    if (outcome === 'ack') acks.push(committedAt);
    if (outcome === 'error') dead = true;
    if (!outcome) break;
  }
  await c.end().catch(() => undefined);
  return { acks, attempts };
}

/** Result of a split-brain drill. */
export interface SplitBrainTrial extends FailoverTrial {
  /** Commits the OLD primary acknowledged after the new primary's first acknowledged write. */
  splitBrainWrites: number;
  heldSessionAttempts: number;
}

/**
 * The primary stays alive but probes and replicas cannot reach it (its probe and
 * replication paths black-holed), while a client keeps a session to it. Failover
 * must happen, and the old primary must acknowledge nothing after the new
 * primary's first write: with its standbys gone it cannot satisfy ANY 1, and the
 * fence severs the session.
 */
export async function livePartitionTrial(
  lab: Lab,
  d: LabDeployment,
  mode: 'blackhole' | 'reset' = 'blackhole',
): Promise<SplitBrainTrial> {
  return splitBrain(lab, d, 'live-partition', async (p) => {
    for (const path of ['az-a', 'az-b', 'az-c', 'repl'] as const) await lab.cut(p, path, mode);
  });
}

/** The primary SIGSTOPped past the detection window with a client holding a session; it must acknowledge nothing when it wakes. */
export async function pauseLongTrial(lab: Lab, d: LabDeployment): Promise<SplitBrainTrial> {
  return splitBrain(
    lab,
    d,
    'pause-long',
    async (p) => lab.stop(p),
    async (p) => lab.cont(p).catch(() => undefined),
  );
}

async function splitBrain(
  lab: Lab,
  d: LabDeployment,
  scenario: string,
  fault: (primary: string) => Promise<void>,
  afterFailover?: (primary: string) => Promise<void>,
): Promise<SplitBrainTrial> {
  const store = labStore();
  const oldPrimary = (await store.getLease()).primary;
  const load = new LoadGenerator(lab.endpointConnection('writer'));
  await load.prepare();
  const direct = directLoad(lab);
  await direct.prepare();
  let done = false;
  const held = hammerHeldSession(lab, oldPrimary, () => done);
  load.start();
  direct.start();
  await sleep(2000);
  const faultAt = Date.now();
  await fault(oldPrimary);
  const run = await waitForRun(d, faultAt, { startTimeoutMs: 25000, runTimeoutMs: runTimeoutFor(lab) });
  if (afterFailover) await afterFailover(oldPrimary);
  const ackBy = Date.now() + 20000;
  const after = run?.started ?? faultAt;
  while ((!load.firstAckAfter(after) || !direct.firstAckAfter(after)) && Date.now() < ackBy) await sleep(50);
  const newPrimaryFirstWrite = run ? (load.firstAckAfter(after)?.at ?? null) : null;
  await sleep(2000);
  done = true;
  const h = await held;
  const report = await load.stop();
  const directReport = await direct.stop();
  return {
    ...(await failoverOutcome(lab, store, {
      scenario,
      oldPrimary,
      run,
      faultAt,
      firstWriteAt: newPrimaryFirstWrite,
      report,
      table: load.table,
      direct: { report: directReport, table: direct.table },
    })),
    splitBrainWrites:
      newPrimaryFirstWrite === null
        ? h.acks.filter((t) => t > faultAt).length
        : h.acks.filter((t) => t >= newPrimaryFirstWrite).length,
    heldSessionAttempts: h.attempts,
  };
}

/**
 * The probes' fast path and the alarm backstop fire together: the alarm's
 * state-change event is published the moment the probes start their run.
 * Exactly one failover may commit.
 */
export async function doubleTriggerTrial(
  lab: Lab,
  d: LabDeployment,
): Promise<FailoverTrial & { executions: number; committedFailovers: number }> {
  const { EventBridgeClient, PutEventsCommand } = await import('@aws-sdk/client-eventbridge');
  const eb = new EventBridgeClient({});
  const store = labStore();
  const before = await store.getLease();
  let fired = false;
  const t0 = Date.now();
  const fire = async () => {
    if (fired) return;
    if ((await executionsSince(d, t0)).length === 0) return;
    fired = true;
    await eb.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'aws.cloudwatch',
            DetailType: 'CloudWatch Alarm State Change',
            Detail: JSON.stringify({
              alarmName: 'PgQuorum-lab-QuorumDownAlarm',
              state: { value: 'ALARM', reason: 'drill' },
              previousState: { value: 'OK' },
            }),
          },
        ],
      }),
    );
  };
  const poller = (async () => {
    while (!fired && Date.now() - t0 < 30000) {
      await fire();
      await sleep(50);
    }
  })();
  const trial = await kill9Trial(lab, d);
  await poller;
  await sleep(3000);
  const execs = await executionsSince(d, t0);
  const sfn = new SFNClient({});
  let running = true;
  for (let i = 0; i < 100 && running; i++) {
    const states = await Promise.all(
      execs.map((e) => sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }))),
    );
    running = states.some((s) => s.status === 'RUNNING');
    if (running) await sleep(200);
  }
  const events = (await store.listEvents(20)).filter(
    (e) => e.epoch > before.epoch && e.kind === 'failover' && e.outcome === 'committed',
  );
  return { ...trial, scenario: 'double-trigger', executions: execs.length, committedFailovers: events.length };
}

/**
 * A step fails midway (injected: both replicas hang right after the fence, so
 * promotion cannot happen). The run must end cleanly in needs-attention with
 * nothing half-done (no second primary), and a rerun after the operator
 * resumes completes the failover.
 */
export async function controllerCrashTrial(
  lab: Lab,
  d: LabDeployment,
): Promise<{
  firstRun: string;
  leaseAfterFirstRun: string;
  primariesAfterFirstRun: string[];
  rerun: string;
  /** The forced failover's target. */
  rerunTarget: string;
  /** The candidates the interrupted run gave up (fenced, marked needs-reclone). */
  excluded: string[];
  newPrimary: string | null;
  lostAcknowledged: number[];
}> {
  const store = labStore();
  const oldPrimary = (await store.getLease()).primary;
  const replicas = lab.nodeNames.filter((n) => n !== oldPrimary);
  const load = new LoadGenerator(lab.endpointConnection('writer'));
  await load.prepare();
  load.start();
  await sleep(1500);
  const faultAt = Date.now();
  await lab.kill(oldPrimary);
  let injected = false;
  const first = await waitForRun(d, faultAt, {
    startTimeoutMs: 20000,
    onTick: async () => {
      if (injected) return;
      const ev = await store.getEvent((await store.getLease()).epoch).catch(() => undefined);
      // The fence is done: the stop confirmed (fence-sever) or, by default in sync mode, the quorum fence's detach.
      if (ev?.timeline.some((s) => s.step === 'fence-sever' || s.step === 'fence-quorum-detach')) {
        injected = true;
        for (const r of replicas) await lab.stop(r);
      }
    },
  });
  const leaseAfter = await store.getLease();
  for (const r of replicas) await lab.cont(r);
  await sleep(1000);
  const st = await lab.status();
  const primaries = st.nodes.filter((n) => n.role === 'primary').map((n) => n.name);
  // The operator's recovery, as the abort's reason names it: `resume --primary OLD`, which with OLD dead leaves the
  // lease paused (the CLI's resumeDecision: no fresh up votes), then a forced failover from paused. A steady lease
  // here would let the probes start a run of their own beside the operator's.
  const { resumePausedLease } = await import('../../lambdas/core/lease');
  const cur = await store.getLease();
  const r = resumePausedLease(cur, {
    now: Date.now(),
    reason: `drill: operator resumed after controller crash, paused until the probes see ${oldPrimary} up`,
    primary: oldPrimary,
  });
  if (r.ok) await store.putLease(r.lease, { epoch: cur.epoch, state: cur.state });
  // A forced failover names its target (ValidateInput refuses `force` without one): the interrupted run's choice,
  // unless the run gave it up (fenced, marked needs-reclone): then a replica it did not give up.
  const ev = await store.getEvent(cur.epoch);
  const excluded = [...(ev?.excluded ?? [])];
  const target =
    ev?.candidate && !excluded.includes(ev.candidate)
      ? ev.candidate
      : (replicas.find((n) => !excluded.includes(n)) ?? replicas[0]!);
  const t1 = Date.now();
  const { executionArn } = await new SFNClient({}).send(
    new StartExecutionCommand({
      stateMachineArn: d.stateMachineArn,
      name: `lab-rerun-${t1}`,
      input: JSON.stringify({
        mode: 'failover',
        cluster: LAB_CLUSTER,
        force: true,
        target,
        reason: 'drill: rerun after controller crash',
      }),
    }),
  );
  const rerun = await waitForExecution(executionArn!, { runTimeoutMs: 120000 });
  const ackBy = Date.now() + 15000;
  while (!load.firstAckAfter(rerun?.stopped ?? Date.now()) && Date.now() < ackBy) await sleep(50);
  const report = await load.stop();
  const lease = await store.getLease();
  const newPrimary = lease.primary !== oldPrimary ? lease.primary : null;
  return {
    firstRun: `${first?.status ?? 'not started'}${first?.cause ? `: ${first.cause.slice(0, 200)}` : ''}`,
    leaseAfterFirstRun: `${leaseAfter.state} (epoch ${leaseAfter.epoch}): ${leaseAfter.reason.slice(0, 160)}`,
    primariesAfterFirstRun: primaries,
    rerun: rerun?.status ?? 'not started',
    rerunTarget: target,
    excluded,
    newPrimary,
    lostAcknowledged: newPrimary
      ? await lostAcknowledged(lab.nodeConnection(lease.primary), load.table, report.acked)
      : [],
  };
}

/** The retry drills: bench scenario -> the task (a TASKS key) that fails once after its side effect. */
export const RETRY_DRILLS = {
  'retry-commit': 'commit',
  'retry-confirm-quorum': 'confirm-quorum',
  'retry-fence': 'fence',
  'retry-promote': 'promote',
  'retry-repoint-replicas': 'repoint-replica',
} as const;

/**
 * Nodes that are primaries AND acknowledge a write from a client through
 * their client path right now (an old primary that is fenced, frozen or has
 * no synchronous standby acknowledges nothing). More than one means split
 * brain. A write that does not come back within `timeoutMs` is not accepted;
 * the connection is dropped rather than cancelled, since a cancelled
 * synchronous-commit wait would report success with a warning.
 */
export async function writablePrimaries(lab: Lab, timeoutMs = 2000): Promise<string[]> {
  const { Client } = await import('pg');
  const out: string[] = [];
  await Promise.all(
    lab.nodeNames.map(async (node) => {
      const c = new Client({ ...lab.nodeConnection(node), connectionTimeoutMillis: timeoutMs });
      c.on('error', () => undefined);
      let warned = false;
      c.on('notice', (n: { message?: string }) => {
        if (/synchronous replication|committed locally/i.test(n.message ?? '')) warned = true;
      });
      const attempt = (async () => {
        await c.connect();
        const r = await c.query('SELECT pg_is_in_recovery() AS rec');
        if (r.rows[0].rec) return false;
        await c.query('CREATE TABLE IF NOT EXISTS pgq_writable (at timestamptz)');
        await c.query('INSERT INTO pgq_writable VALUES (now())');
        return !warned;
      })().catch(() => false);
      const accepted = await Promise.race([attempt, sleep(timeoutMs).then(() => false)]);
      (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      await c.end().catch(() => undefined);
      if (accepted) out.push(node);
    }),
  );
  return out.sort();
}

/** Result of a retry drill: the kill -9 failover with one task failing once after its side effect. */
export interface RetryTrial extends FailoverTrial {
  task: string;
  /** The fault switch fired (the task completed its work, then failed with Pgq.Retriable). */
  faultFired: boolean;
  /**
   * Invocations of the task that finished their work, the faulted one included (the shim reports only those):
   * 2 or more means the retry succeeded; 1 means the retry itself failed (the product refused to redo the step).
   */
  taskCompletions: number;
  /** The lease after the run: `steady` when the retried step was safe, `needs-attention` when it aborted. */
  lease: string;
  /** Primaries that accept writes after the run (never more than one). */
  writablePrimaries: string[];
  /**
   * Acknowledged writes missing from the node that holds the data after the run, whatever the run's outcome:
   * the primary of record if it is up, else the node that is no longer in recovery (promoted), else the most
   * advanced replica. (`lostAcknowledged` only checks a committed new primary.)
   */
  lostOnSurvivor: number[];
  survivor: string | null;
}

/** The node that holds the cluster's data after a run, as RetryTrial.lostOnSurvivor defines it. */
async function survivorOf(lab: Lab, primaryOfRecord: string): Promise<string | null> {
  const st = await lab.status();
  const up = st.nodes.filter((n) => n.up && (n.role === 'primary' || n.role === 'replica'));
  const pick =
    up.find((n) => n.name === primaryOfRecord && n.role === 'primary') ??
    up.find((n) => n.role === 'primary') ??
    up
      .filter((n) => n.lsn)
      .sort((a, b) => compareLsn(b.lsn!, a.lsn!))
      .at(0);
  return pick?.name ?? null;
}

/**
 * kill -9 of the primary while `task` is armed to fail once after its side
 * effect, so the state machine's Retry runs it a second time. Reports what
 * the product did (a retried step may end the run in needs-attention: that
 * is a finding about the product, not the drill).
 */
export async function retryTrial(
  lab: Lab,
  d: LabDeployment,
  task: string,
  opts: { onProgress?: (m: string) => void } = {},
): Promise<RetryTrial> {
  await lab.armFault(task);
  const t = await kill9Trial(lab, d, opts);
  const f = await lab.faults();
  // Disarm: a fault not taken (the run never reached the task) must not leak into the next drill.
  await lab.armFault(task, { times: 0 });
  const lease = await labStore().getLease();
  const survivor = await survivorOf(lab, lease.primary);
  const lostOnSurvivor = survivor
    ? await lostAcknowledged(lab.directConnection(survivor), 'pgq_load', t.acked ?? [])
    : (t.acked ?? []).map((a) => a.id);
  return {
    ...t,
    survivor,
    lostOnSurvivor,
    scenario: `retry-${task}`,
    task,
    faultFired: f.log.some((x) => x.task === task && x.failed),
    taskCompletions: f.log.filter((x) => x.task === task).length,
    lease: `${lease.state} (epoch ${lease.epoch}): ${lease.reason.slice(0, 160)}`,
    writablePrimaries: await writablePrimaries(lab),
  };
}

/** kill -9 of the primary with every AWS call the product makes slowed by `slowMs` (a degraded AWS endpoint). */
export async function slowEmulatorTrial(
  lab: Lab,
  d: LabDeployment,
  slowMs = 300,
): Promise<FailoverTrial & { slowMs: number }> {
  await lab.emulatorSlow(slowMs);
  try {
    return { ...(await kill9Trial(lab, d)), scenario: 'slow-emulator', slowMs };
  } finally {
    await lab.emulatorSlow(0);
  }
}

/** The host faults the bench and the drills deal out (see Lab.hostLoss, azOutage, hungHost). */
export const HOST_FAULTS = ['host-loss-running', 'host-loss-stopped', 'az-outage', 'hung-host'] as const;
export type HostFault = (typeof HOST_FAULTS)[number];

/** Result of a host-fault drill. */
export interface HostFaultTrial extends SplitBrainTrial {
  /** The lease after the run: `steady` after a failover, `needs-attention` when the run gave up (with its reason). */
  leaseAfter: string;
  /** Nodes that accepted a write from a fresh client after the host came back (never more than one may). */
  writableAtEnd: string[];
  /** What the product asked the lost host through SSM and how each invocation stood at the end. */
  ssm: { script: string; node: string; status: string; details: string }[];
}

/**
 * The primary's host is lost (or hung, or its whole AZ) under write load, with
 * a client holding a session to it. Measures the run's outcome as it is today
 * (the fence's SSM command is never delivered, so the run may well end in
 * needs-attention: a finding, not a lab failure), then brings the host back
 * and checks what must always hold: no acknowledged write lost, and no commit
 * acknowledged by the old primary once another node has been promoted.
 */
export async function hostFaultTrial(
  lab: Lab,
  d: LabDeployment,
  fault: HostFault,
  opts: { onProgress?: (m: string) => void; runTimeoutMs?: number } = {},
): Promise<HostFaultTrial> {
  const say = opts.onProgress ?? (() => undefined);
  const store = labStore();
  const oldPrimary = (await store.getLease()).primary;
  const az = lab.state.ports.nodes.find((n) => n.name === oldPrimary)!.az;
  const load = new LoadGenerator(lab.endpointConnection('writer'));
  await load.prepare();
  const direct = directLoad(lab);
  await direct.prepare();
  let done = false;
  const held = hammerHeldSession(lab, oldPrimary, () => done);
  load.start();
  direct.start();
  await sleep(2000);
  const faultAt = Date.now();
  if (fault === 'host-loss-running') await lab.hostLoss(oldPrimary, { instance: 'running' });
  else if (fault === 'host-loss-stopped') await lab.hostLoss(oldPrimary, { instance: 'stopped' });
  else if (fault === 'az-outage') await lab.azOutage(az);
  else await lab.hungHost(oldPrimary);
  say(`${fault} of ${oldPrimary} (${az}) at ${new Date(faultAt).toISOString()}`);
  const run = await waitForRun(d, faultAt, { startTimeoutMs: 25000, runTimeoutMs: opts.runTimeoutMs ?? 240000 });
  const after = run?.started ?? faultAt;
  const ackBy = Date.now() + 20000;
  while (
    run?.status === 'SUCCEEDED' &&
    (!load.firstAckAfter(after) || !direct.firstAckAfter(after)) &&
    Date.now() < ackBy
  )
    await sleep(50);
  const newPrimaryFirstWrite = run ? (load.firstAckAfter(after)?.at ?? null) : null;
  const lease = await store.getLease();
  const ssm = (await lab.ssmInvocations()).filter((i) => i.node === oldPrimary);
  // The host comes back (a hung host thaws; a lost one is reachable again, a stopped instance boots): the held
  // session and fresh clients find out whether the old primary still acknowledges anything.
  await lab.healHost(oldPrimary);
  await sleep(3000);
  const writableAtEnd = await writablePrimaries(lab);
  done = true;
  const h = await held;
  const report = await load.stop();
  const directReport = await direct.stop();
  const promoted = lease.primary !== oldPrimary;
  const outcome = await failoverOutcome(lab, store, {
    scenario: fault,
    oldPrimary,
    run,
    faultAt,
    firstWriteAt: newPrimaryFirstWrite,
    report,
    table: load.table,
    direct: { report: directReport, table: direct.table },
  });
  // Split brain needs two primaries: only commits the old primary acknowledged after another node took writes count.
  const splitFrom = newPrimaryFirstWrite ?? (promoted ? (run?.stopped ?? null) : null);
  return {
    ...outcome,
    splitBrainWrites: splitFrom === null ? 0 : h.acks.filter((t) => t >= splitFrom).length,
    heldSessionAttempts: h.attempts,
    leaseAfter: `${lease.state} epoch ${lease.epoch} primary ${lease.primary}${lease.reason ? `: ${lease.reason}` : ''}`,
    writableAtEnd,
    ssm: ssm.map(({ script, node, status, details }) => ({ script, node, status, details })),
    ...(run ? {} : { noStart: await quorumSnapshot(store) }),
  };
}

/** Result of the sync-standby-loss drill: both replicas stopped under the deployed onNoSyncStandby policy. */
export interface SyncStandbyLossTrial {
  /** From the stop of the second replica to the episode's start, as the probes recorded it (ms). */
  readonly detectMs: number | null;
  /** Writes of the episode item, one page each: 2 (start and end) is one page per event. */
  readonly pages: number;
  /** A synchronous commit started at the loss was acknowledged within the hold (degrade), or not (block). */
  readonly commitAckedMs: number | null;
  /** The lease recorded a degrade (onNoSyncStandby degrade). */
  readonly degraded: boolean;
  /** From restarting the replicas to the episode's end (ms). */
  readonly recoveredMs: number | null;
  /** The lease's epoch moved: a run started (never expected). */
  readonly runStarted: boolean;
}

/**
 * Both replicas lost: stops pg2 and pg3 immediately, starts one synchronous commit on pg1, holds `holdMs`, then
 * restarts them and waits for the episode to end. The caller judges block (no ack in the hold) or degrade (an
 * ack after degradeAfterSec).
 */
export async function syncStandbyLossTrial(lab: Lab, holdMs = 25000): Promise<SyncStandbyLossTrial> {
  const { Client } = await import('pg');
  const store = labStore();
  const before = await store.getLease();
  const episode = async () => (await store.getEpisodes()).find((e) => e.kind === 'sync-standby-missing');
  const revBefore = (await episode())?.rev ?? 0;
  await lab.pgStop('pg2', 'immediate');
  await lab.pgStop('pg3', 'immediate');
  const lostAt = Date.now();
  const c = new Client(lab.nodeConnection(before.primary));
  c.on('error', () => undefined);
  let ackedAt: number | null = null;
  const commit = (async () => {
    await c.connect();
    await c.query('CREATE TABLE IF NOT EXISTS pgq_sync_drill (at timestamptz)');
    await c.query('INSERT INTO pgq_sync_drill VALUES (now())');
    ackedAt = Date.now();
  })().catch(() => undefined);
  let detectMs: number | null = null;
  const holdUntil = lostAt + holdMs;
  while (Date.now() < holdUntil) {
    const e = await episode().catch(() => undefined);
    if (detectMs === null && e?.active && e.rev !== revBefore) detectMs = e.since - lostAt;
    await sleep(250);
  }
  const degraded = Boolean((await store.getLease()).syncDegraded);
  const restartAt = Date.now();
  await lab.pgStart('pg2');
  await lab.pgStart('pg3');
  let recoveredMs: number | null = null;
  while (Date.now() < restartAt + 40000) {
    const e = await episode().catch(() => undefined);
    if (e && !e.active && !(await store.getLease()).syncDegraded) {
      recoveredMs = (e.endedAt ?? Date.now()) - restartAt;
      break;
    }
    await sleep(250);
  }
  await Promise.race([commit, sleep(5000)]);
  (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  const after = await store.getLease();
  return {
    detectMs,
    pages: ((await episode())?.rev ?? 0) - revBefore,
    commitAckedMs: ackedAt !== null && ackedAt <= holdUntil ? ackedAt - lostAt : null,
    degraded,
    recoveredMs,
    runStarted: after.epoch !== before.epoch,
  };
}

/** Result of the unnamed-primary drill: a replica promoted by hand outside any run. */
export interface UnnamedPrimaryTrial {
  /** From the promotion to the episode's start (ms). */
  readonly detectMs: number | null;
  /** Episode writes (pages) within `watchMs` of the promotion: 1 is one page. */
  readonly pages: number;
  readonly runStarted: boolean;
}

/** Promotes pg2 by hand (pg_promote) while the lease names pg1, and watches the probes for `watchMs`. */
export async function unnamedPrimaryTrial(lab: Lab, watchMs = 10000): Promise<UnnamedPrimaryTrial> {
  const { Client } = await import('pg');
  const store = labStore();
  const before = await store.getLease();
  const episode = async () => (await store.getEpisodes()).find((e) => e.kind === 'unnamed-primary');
  const revBefore = (await episode())?.rev ?? 0;
  const c = new Client(lab.nodeConnection('pg2'));
  await c.connect();
  await c.query('SELECT pg_promote(true, 30)');
  await c.end();
  const promotedAt = Date.now();
  let detectMs: number | null = null;
  while (Date.now() < promotedAt + watchMs) {
    const e = await episode().catch(() => undefined);
    if (detectMs === null && e?.active && e.rev !== revBefore) detectMs = e.since - promotedAt;
    await sleep(250);
  }
  return {
    detectMs,
    pages: ((await episode())?.rev ?? 0) - revBefore,
    runStarted: (await store.getLease()).epoch !== before.epoch,
  };
}

/** Resolves once the execution has entered state `name` (its history shows the StateEntered event). */
export async function whenStateEntered(executionArn: string, name: string, timeoutMs = 60000): Promise<boolean> {
  const sfn = new SFNClient({});
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const h = await sfn
      .send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, reverseOrder: true }))
      .catch(() => undefined);
    if (h?.events?.some((e) => e.type?.endsWith('StateEntered') && e.stateEnteredEventDetails?.name === name))
      return true;
    await sleep(25);
  }
  return false;
}

/** Runs one SQL statement on a node's postmaster, past its gate (a fence must not hide a writable node). */
async function onNode(lab: Lab, node: string, sql: string): Promise<unknown[]> {
  const { Client } = await import('pg');
  const c = new Client({ ...lab.directConnection(node), connectionTimeoutMillis: 2000 });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Result of a switchover whose target stops replaying once the old primary is being stopped. */
export interface SwitchoverRollbackTrial {
  executionStatus: string;
  cause?: string;
  /** The run's outcome as the history records it (`rolled-back` is the expected one). */
  outcome: string;
  reason: string;
  oldPrimary: string;
  target: string;
  /** The lease after the run: state and primary. */
  leaseState: string;
  leasePrimary: string;
  /** The writer record as the lab's resolver endpoint sees it after the run. */
  writer: string[];
  /** The old primary answers pg_is_in_recovery() = false and takes a write after the run. */
  oldPrimaryWritable: boolean;
  /** The most nodes seen accepting a write at once during the run (writablePrimaries; 1: never two primaries). */
  maxWritablePrimaries: number;
  /** Time with no acknowledged write (ms): the rollback's write outage. */
  writePauseMs: number;
  ackedWrites: number;
  lostAcknowledged: number[];
  /**
   * The fault hit its step: replay paused as StopOldPrimary began, or the target killed while PromoteTarget's
   * invocation was held (else the drill did not run as designed).
   */
  pausedOnTime: boolean;
  /** The target's security group after the run (target-dies: it must be fenced, its promotion may complete). */
  targetIngress: 'fenced' | 'open' | null;
  event?: EventRecord;
}

/**
 * What makes the switchover fail after the old primary was stopped: `replay-paused`, the target's WAL replay
 * paused as StopOldPrimary starts (WaitForReplay runs out); `target-dies`, the target killed (kill -9) as
 * PromoteTarget is about to promote it (pg_promote cannot reach it: a promotion that may still complete, so
 * the rollback must fence it before the old primary writes again).
 */
export type SwitchoverRollbackFault = 'replay-paused' | 'target-dies';

/**
 * A switchover to a target caught up at the check, whose WAL replay is paused (pg_wal_replay_pause()) the
 * moment the state machine enters StopOldPrimary: the old primary's shutdown checkpoint reaches the target but
 * is never applied, so WaitForReplay runs out its bound (switchoverReplayTimeoutMs) and the run must roll back:
 * the old primary restarted as the primary, the lease steady on it, its records naming it. Under write load,
 * sampling every node for a second writable primary throughout. Replay is resumed on the target afterwards.
 */
export async function switchoverRollbackTrial(
  lab: Lab,
  d: LabDeployment,
  target = 'pg2',
  fault: SwitchoverRollbackFault = 'replay-paused',
): Promise<SwitchoverRollbackTrial> {
  const store = labStore();
  const before = await store.getLease();
  const load = new LoadGenerator(lab.endpointConnection('writer'));
  await load.prepare();
  load.start();
  await sleep(1500);
  let maxWritable = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      maxWritable = Math.max(maxWritable, (await writablePrimaries(lab)).length);
      await sleep(100);
    }
  })();
  const t0 = Date.now();
  let pausedOnTime = false;
  // replay-paused: the old primary's stop waits for the pause: held in the lab's Run Command, as a slow delivery
  // would hold it (the drawn delivery latency alone loses the race to the history poll now and then).
  // target-dies: PromoteTarget's invocation is held until the target is dead (lab.holdTask).
  if (fault === 'replay-paused') await lab.holdHostCommand('stop-postgres-fast');
  else await lab.holdTask('promote');
  try {
    const { executionArn } = await new SFNClient({}).send(
      new StartExecutionCommand({
        stateMachineArn: d.stateMachineArn,
        name: `lab-switchover-rollback-${t0}`,
        input: JSON.stringify({
          mode: 'switchover',
          cluster: LAB_CLUSTER,
          target,
          reason: 'drill: switchover rollback',
        }),
      }),
    );
    if (fault === 'replay-paused') {
      pausedOnTime = await whenStateEntered(executionArn!, 'StopOldPrimary', runTimeoutFor(lab));
      if (pausedOnTime) await onNode(lab, target, 'SELECT pg_wal_replay_pause()');
      await lab.releaseHostCommand('stop-postgres-fast');
    } else {
      const by = Date.now() + runTimeoutFor(lab);
      while (!pausedOnTime && Date.now() < by) {
        pausedOnTime = ((await lab.heldTasks()).promote ?? []).some((w) => w.candidate === target);
        if (!pausedOnTime) await sleep(50);
      }
      if (pausedOnTime) await lab.kill(target);
      await lab.releaseTask('promote');
    }
    const run = await waitForExecution(executionArn!, { runTimeoutMs: runTimeoutFor(lab) });
    // The killed target's host comes back: it must not be a writer clients can reach (it is fenced).
    if (fault === 'target-dies') await lab.pgStart(target).catch(() => undefined);
    const ackBy = Date.now() + 15000;
    while (!load.firstAckAfter(run.stopped) && Date.now() < ackBy) await sleep(50);
    await sleep(300);
    const report = await load.stop();
    sampling = false;
    await sampler;
    const lease = await store.getLease();
    const lost = await lostAcknowledged(lab.nodeConnection(lease.primary), load.table, report.acked);
    const event = await store.getEvent(lease.epoch);
    const st = await lab.status();
    // The product's probe, past the gate (a fence must not hide a writable node): out of recovery is writable.
    const oldPrimaryWritable = st.nodes.find((n) => n.name === before.primary)?.role === 'primary';
    return {
      executionStatus: run.status,
      ...(run.cause ? { cause: run.cause } : {}),
      outcome: event?.outcome ?? 'none',
      reason: event?.reason ?? lease.reason,
      oldPrimary: before.primary,
      target,
      leaseState: lease.state,
      leasePrimary: lease.primary,
      writer: st.writer,
      targetIngress: (() => {
        const n = st.nodes.find((x) => x.name === target);
        return n ? (n.gateOpen ? 'open' : 'fenced') : null;
      })(),
      oldPrimaryWritable,
      maxWritablePrimaries: maxWritable,
      writePauseMs: report.maxGapMs,
      ackedWrites: report.acked.length,
      lostAcknowledged: lost,
      pausedOnTime,
      ...(event ? { event } : {}),
    };
  } finally {
    sampling = false;
    await sampler;
    await load.stop().catch(() => undefined);
    await lab.releaseHostCommand('stop-postgres-fast').catch(() => undefined);
    await lab.releaseTask('promote').catch(() => undefined);
    if (fault === 'replay-paused') await onNode(lab, target, 'SELECT pg_wal_replay_resume()').catch(() => undefined);
  }
}

/** When the candidate-kill drills kill the run's candidate (issue 13). */
export const CANDIDATE_KILL_MOMENTS = ['entering-promote', 'after-promote', 'before-commit'] as const;
export type CandidateKillMoment = (typeof CANDIDATE_KILL_MOMENTS)[number];

/** Result of a candidate-kill drill: the kill -9 failover whose first candidate is killed mid-run. */
export interface CandidateKillTrial extends FailoverTrial {
  moment: CandidateKillMoment;
  /** The candidate killed (null: the run never reached the moment). */
  killedCandidate: string | null;
  /** When the candidate was killed, from the old primary's kill (ms). */
  killedAtMs: number | null;
  /** The run's record of given-up candidates (RunRecord.excluded). */
  excluded: string[];
  /** The lease after the run. */
  lease: string;
  /** The killed candidate's security group after the run: it must be fenced (closed). */
  killedIngress: 'fenced' | 'open' | null;
  /** Primaries that accept writes from a fresh client after the run, the killed candidate restarted first. */
  writablePrimaries: string[];
  /** Acknowledged writes missing on the node holding the data (as RetryTrial.lostOnSurvivor). */
  lostOnSurvivor: number[];
  survivor: string | null;
  /** The run's degraded list, when it committed-degraded. */
  degraded: string[];
  /**
   * How the operator learns that a committed primary is dead, or null when nothing says so: the old primary's
   * rejoin fails against it (committed-degraded), or the probes see it down and the next run, refused by
   * anti-flap, leaves the lease needs-attention naming it. ConfirmCandidate probes the candidate after FlipDns and
   * before Commit, so a candidate killed before FlipDns is re-planned like the others; this is what remains for one
   * that dies between ConfirmCandidate and Commit's write.
   */
  told: string | null;
}

/**
 * kill -9 of the primary, then kill -9 of the run's candidate timed by the execution history: as the state
 * machine enters Promote, or as Promote exits successfully. The run must fence that candidate, re-plan to the
 * other replica and commit; after it, the killed node is restarted (as a host coming back would), and must not
 * be a writer clients can reach (its ingress stays revoked).
 */
export async function candidateKillTrial(
  lab: Lab,
  d: LabDeployment,
  moment: CandidateKillMoment,
  opts: { onProgress?: (m: string) => void; ackWaitMs?: number } = {},
): Promise<CandidateKillTrial> {
  const say = opts.onProgress ?? (() => undefined);
  const store = labStore();
  const since = Date.now();
  const sfn = new SFNClient({});
  let killed: string | null = null;
  let killedAt: number | null = null;
  let stop = false;
  // The kill happens at an exact step: the task about to run is held in the lab (as a slow invoke holds it) until
  // the candidate it names is dead. An execution-history poll raced the run: on a loaded machine it saw the state
  // only after the next steps had run (a CI run of df522b7 killed a before-commit candidate after its rejoin).
  // entering-promote: Promote's own invocation; after-promote: the re-point that follows a successful Promote;
  // before-commit: FlipDns, after every replica was re-pointed: ConfirmCandidate probes the candidate next, so the
  // run must re-plan here too (before that step existed, it committed the dead node).
  const held: TaskName =
    moment === 'entering-promote' ? 'promote' : moment === 'after-promote' ? 'repoint-replica' : 'flip-dns';
  await lab.holdTask(held);
  const release = () => lab.releaseTask(held).catch(() => undefined);
  const watcher = (async () => {
    try {
      while (!stop && !killed) {
        const waiting = (await lab.heldTasks().catch(() => ({}) as Record<string, { candidate: string }[]>))[held];
        const candidate = waiting?.find((w) => w.candidate)?.candidate;
        if (candidate) {
          await lab.kill(candidate);
          killed = candidate;
          killedAt = Date.now();
          say(`kill -9 candidate ${candidate} (${moment}, ${held} held) at ${new Date(killedAt).toISOString()}`);
          await release();
          if (moment === 'before-commit') {
            // Should the run commit the dead node anyway, its host comes back once the run ended, as the primary of
            // record would: the drill then sees what the operator is told (`told`).
            const exec = (await executionsSince(d, since).catch(() => []))[0];
            const runBy = Date.now() + 180000;
            while (exec && Date.now() < runBy) {
              const x = await sfn
                .send(new DescribeExecutionCommand({ executionArn: exec.executionArn! }))
                .catch(() => undefined);
              if (x && x.status !== 'RUNNING') break;
              await sleep(200);
            }
            await lab.pgStart(candidate).catch(() => undefined);
            say(`${candidate} started again after the run`);
          }
          return;
        }
        await sleep(20);
      }
    } finally {
      await release();
    }
  })();
  const t = await kill9Trial(lab, d, opts).finally(release);
  stop = true;
  await watcher;
  const lease = await store.getLease();
  // The killed candidate's host comes back: PostgreSQL starts again (as a primary, if it was promoted).
  if (killed) await lab.pgStart(killed).catch(() => undefined);
  // The gate follows the security group within one poll (150 ms).
  await sleep(2000);
  const st = await lab.status();
  const killedNode = killed ? st.nodes.find((n) => n.name === killed) : undefined;
  const survivor = await survivorOf(lab, lease.primary);
  const lostOnSurvivor = survivor
    ? await lostAcknowledged(lab.directConnection(survivor), 'pgq_load', t.acked ?? [])
    : (t.acked ?? []).map((a) => a.id);
  // The run's own event (a later run the probes start may have moved the lease on).
  const event = await store.getEvent(t.event?.epoch ?? lease.epoch).catch(() => undefined);
  return {
    ...t,
    scenario: `candidate-kill-${moment}`,
    moment,
    killedCandidate: killed,
    killedAtMs: killedAt !== null ? killedAt - since : null,
    excluded: [...(lease.run?.excluded ?? [])],
    lease: `${lease.state} (epoch ${lease.epoch}, primary ${lease.primary}): ${lease.reason.slice(0, 200)}`,
    killedIngress: killedNode ? (killedNode.gateOpen ? 'open' : 'fenced') : null,
    writablePrimaries: await writablePrimaries(lab),
    lostOnSurvivor,
    survivor,
    degraded: [...(event?.degraded ?? [])],
    told: event?.degraded?.length
      ? `committed-degraded: ${event.degraded.join('; ')}`
      : killed && lease.state === 'needs-attention' && lease.reason.includes(`report ${killed} down`)
        ? `needs-attention: ${lease.reason}`
        : null,
  };
}

/** Result of the replan-exhausted drill: the candidate-kill drill under a deployment whose re-plans run out. */
export interface ReplanExhaustedTrial extends CandidateKillTrial {
  /** The lease after the run: its state and reason (the sentence for the operator). */
  leaseState: string;
  reason: string;
  /** The old primary's security group after the run: the run fenced it before Promote. */
  oldPrimaryIngress: 'fenced' | 'open' | null;
  /** The replica neither killed: the healthy node the reason's next command fails over to. */
  remaining: string | null;
}

/**
 * kill -9 of the primary, then of the run's candidate as it enters Promote (candidateKillTrial), under a
 * deployment with maxReplans 0 (the bench deploys it so for this scenario): the run must give the candidate up
 * and end needs-attention with the nodes and the next command, the killed candidate fenced as well as the old
 * primary, no writer at all (never two), nothing acknowledged lost. The killed candidate is started again.
 */
export async function replanExhaustedTrial(
  lab: Lab,
  d: LabDeployment,
  opts: { onProgress?: (m: string) => void } = {},
): Promise<ReplanExhaustedTrial> {
  const oldPrimary = (await labStore().getLease()).primary;
  // No write is acknowledged after the give-up: wait briefly for one rather than the failover drills' 20 s.
  const t = await candidateKillTrial(lab, d, 'entering-promote', { ...opts, ackWaitMs: 3000 });
  const lease = await labStore().getLease();
  const old = (await lab.status()).nodes.find((n) => n.name === oldPrimary);
  return {
    ...t,
    scenario: 'replan-exhausted',
    leaseState: lease.state,
    reason: lease.reason,
    oldPrimaryIngress: old ? (old.gateOpen ? 'open' : 'fenced') : null,
    remaining: lab.nodeNames.find((n) => n !== oldPrimary && n !== t.killedCandidate) ?? null,
  };
}

/** Result of the post-fence re-check drill (issue 13, DESIGN invariant 4). */
export interface CandidateBehindTrial extends FailoverTrial {
  /** The candidate SelectCandidate chose (the Fence's held invocation named it), then starved of WAL. */
  chosen: string | null;
  /** Writes the old primary acknowledged after the chosen candidate's stream stopped (before the fence). */
  ackedAfterFreeze: number;
  /** The run's record of given-up candidates. */
  excluded: string[];
  /** The Replan step's detail (why the candidate was given up), or null when the run did not re-plan. */
  replanReason: string | null;
  /** Primaries that accept writes from a fresh client after the run. */
  writablePrimaries: string[];
}

/**
 * The old primary keeps committing between SelectCandidate and the fence, with the other standby's
 * acknowledgement only (quorum sync `ANY 1`): its probe paths are black-holed (the probes see it down, clients
 * and replicas still reach it), the Fence's invocation is held once SelectCandidate chose, and the chosen
 * candidate's stream is stopped for two seconds of load. Promote's post-fence re-check must find
 * the candidate behind the other replica and re-plan to it: without that check the writes acknowledged in those
 * two seconds are lost.
 */
export async function candidateBehindTrial(
  lab: Lab,
  d: LabDeployment,
  opts: { onProgress?: (m: string) => void } = {},
): Promise<CandidateBehindTrial> {
  const say = opts.onProgress ?? (() => undefined);
  const store = labStore();
  const oldPrimary = (await store.getLease()).primary;
  const load = new LoadGenerator(lab.endpointConnection('writer'));
  await load.prepare();
  load.start();
  await sleep(2500);
  await lab.holdTask('fence');
  const probePaths = ['az-a', 'az-b', 'az-c'] as const;
  let chosen: string | null = null;
  let starved = false;
  let ackedAfterFreeze = 0;
  const faultAt = Date.now();
  let run: RunResult | undefined;
  try {
    for (const p of probePaths) await lab.cut(oldPrimary, p, 'blackhole');
    say(`probe paths to ${oldPrimary} black-holed at ${new Date(faultAt).toISOString()}; Fence held`);
    const by = Date.now() + runTimeoutFor(lab);
    while (!chosen && Date.now() < by) {
      chosen = ((await lab.heldTasks()).fence ?? []).find((w) => w.candidate)?.candidate ?? null;
      if (!chosen) await sleep(50);
    }
    if (chosen) {
      // Its stream ends (an empty primary_conninfo stops the walreceiver and starts none): pg_last_wal_receive_lsn
      // keeps the last position it received. A SIGSTOPped walreceiver would not do: it still reads 'streaming', so
      // VerifyFence sees a replica of the old primary, and once continued it reads what sat in its socket.
      await onNode(lab, chosen, "ALTER SYSTEM SET primary_conninfo = ''");
      await onNode(lab, chosen, 'SELECT pg_reload_conf()');
      const stopBy = Date.now() + 10000;
      while (((await onNode(lab, chosen, 'SELECT pid FROM pg_stat_wal_receiver')) as unknown[]).length) {
        if (Date.now() > stopBy) throw new Error(`${chosen}'s walreceiver did not stop after primary_conninfo ''`);
        await sleep(50);
      }
      starved = true;
      const at = Date.now();
      say(`${chosen} chosen; its stream from ${oldPrimary} stopped at ${new Date(at).toISOString()}`);
      await sleep(2000);
      ackedAfterFreeze = load.report.acked.filter((a) => a.at >= at).length;
      say(`${oldPrimary} acknowledged ${ackedAfterFreeze} write(s) since, with the other standby's ack only`);
    }
  } finally {
    await lab.releaseTask('fence').catch(() => undefined);
  }
  try {
    run = await waitForRun(d, faultAt, { startTimeoutMs: 5000, runTimeoutMs: runTimeoutFor(lab) });
    const ackBy = Date.now() + 20000;
    while (!load.firstAckAfter(run?.stopped ?? faultAt) && Date.now() < ackBy) await sleep(50);
    await sleep(500);
  } finally {
    // The lab's reset rebuilds the node; until then, a given-up candidate stays a replica that streams from nobody.
    if (starved && chosen) {
      await onNode(lab, chosen, 'ALTER SYSTEM RESET primary_conninfo').catch(() => undefined);
    }
    for (const p of probePaths) await lab.heal(oldPrimary, p).catch(() => undefined);
  }
  const report = await load.stop();
  const outcome = await failoverOutcome(lab, store, {
    scenario: 'candidate-behind-after-fence',
    oldPrimary,
    run,
    faultAt,
    report,
    table: load.table,
  });
  const lease = await store.getLease();
  const event = await store.getEvent(outcome.event?.epoch ?? lease.epoch).catch(() => undefined);
  return {
    ...outcome,
    chosen,
    ackedAfterFreeze,
    excluded: [...(lease.run?.excluded ?? event?.excluded ?? [])],
    replanReason: event?.timeline.find((s) => s.step === 'replan')?.detail ?? null,
    writablePrimaries: await writablePrimaries(lab),
  };
}

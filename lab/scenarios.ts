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
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { DynamoStore } from '../lambdas/adapters/aws/dynamo-store';
import type { EventRecord } from '../lambdas/ports/store-port';
import type { LabDeployment } from './deploy';
import type { Lab } from './index';
import { LoadGenerator, type LoadReport, lostAcknowledged } from './load';
import { LAB_CLUSTER, LAB_TABLE } from './topology';

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

/** Waits for the first execution started after `since` to finish; undefined when none started in time. */
export async function waitForRun(
  d: LabDeployment,
  since: number,
  opts: { startTimeoutMs?: number; runTimeoutMs?: number; onTick?: () => Promise<void> } = {},
): Promise<
  { name: string; status: string; started: number; stopped: number; error?: string; cause?: string } | undefined
> {
  const sfn = new SFNClient({});
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
  const runBy = Date.now() + (opts.runTimeoutMs ?? 120000);
  for (;;) {
    await opts.onTick?.();
    const x = await sfn.send(new DescribeExecutionCommand({ executionArn: exec.executionArn }));
    if (x.status !== 'RUNNING' || Date.now() > runBy) {
      return {
        name: exec.name!,
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

/** Result of one unplanned-failover trial. */
export interface FailoverTrial {
  scenario: string;
  outcome: 'failover' | 'no-failover' | 'failed';
  execution?: string;
  executionStatus?: string;
  /** Fault to first acknowledged write through the writer endpoint (ms). */
  rtoMs: number | null;
  /** Fault to the execution's start (detection + quorum + trigger) (ms). */
  detectMs: number | null;
  ackedWrites: number;
  lostAcknowledged: number[];
  bytesAtRisk: string | null;
  newPrimary: string | null;
  event?: EventRecord;
  load: Omit<LoadReport, 'acked'>;
}

async function primaryConnOf(lab: Lab, store: DynamoStore) {
  const lease = await store.getLease();
  return { name: lease.primary, conn: lab.nodeConnection(lease.primary) };
}

/**
 * kill -9 of the primary under write load. Measures RTO (kill to the first
 * acknowledged write through the writer endpoint), reads every acknowledged id
 * back from the new primary, and collects the run's event record.
 */
export async function kill9Trial(
  lab: Lab,
  d: LabDeployment,
  opts: { warmupMs?: number; fault?: 'kill' | 'stop'; onProgress?: (m: string) => void } = {},
): Promise<FailoverTrial> {
  const store = labStore();
  const say = opts.onProgress ?? (() => undefined);
  const oldPrimary = (await store.getLease()).primary;
  const load = new LoadGenerator(lab.endpointConnection('writer'));
  await load.prepare();
  load.start();
  await sleep(opts.warmupMs ?? 2500);
  const faultAt = Date.now();
  if (opts.fault === 'stop') await lab.stop(oldPrimary);
  else await lab.kill(oldPrimary);
  say(`${opts.fault === 'stop' ? 'SIGSTOP' : 'kill -9'} ${oldPrimary} at ${new Date(faultAt).toISOString()}`);
  const run = await waitForRun(d, faultAt, { startTimeoutMs: 20000, runTimeoutMs: 120000 });
  // Keep writing until the first acknowledged write after the fault (or give up).
  const ackBy = Date.now() + 20000;
  while (!load.firstAckAfter(faultAt) && Date.now() < ackBy) await sleep(50);
  await sleep(500);
  const report = await load.stop();
  const firstAck = report.acked.find((a) => a.at > faultAt);
  const lease = await store.getLease();
  const event = run ? await store.getEvent(lease.epoch) : undefined;
  const newPrimary = lease.primary !== oldPrimary ? lease.primary : null;
  const { conn } = await primaryConnOf(lab, store);
  const lost = newPrimary ? await lostAcknowledged(conn, load.table, report.acked) : [];
  const { acked, ...rest } = report;
  return {
    scenario: opts.fault === 'stop' ? 'pause-long' : 'kill9',
    outcome: run?.status === 'SUCCEEDED' && newPrimary ? 'failover' : run ? 'failed' : 'no-failover',
    ...(run ? { execution: run.name, executionStatus: run.status } : {}),
    rtoMs: firstAck && newPrimary ? firstAck.at - faultAt : null,
    detectMs: run ? run.started - faultAt : null,
    ackedWrites: acked.length,
    lostAcknowledged: lost,
    bytesAtRisk: event?.bytesAtRisk ?? null,
    newPrimary,
    ...(event ? { event } : {}),
    load: rest,
  };
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
  await new SFNClient({}).send(
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
  const run = await waitForRun(d, t0, { runTimeoutMs: 120000 });
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

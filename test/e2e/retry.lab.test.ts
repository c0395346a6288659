import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { TASKS, type TaskName } from '../../infra/constructs/tasks';
import { type LabDeployment, startProbes, stopProbes } from '../../lab/deployer/deploy';
import { retryTrial, waitForExecution, waitForHealthyVotes } from '../../lab/drills/scenarios';
import type { Lab } from '../../lab/world/index';
import { LAB_CLUSTER } from '../../lab/world/topology';
import { useDeployedLab } from './fixtures';

/**
 * Retries on the lab: the state machine's own Retry policy runs a task again
 * after it failed with Pgq.Retriable (the lab's emulator patch keeps the error
 * name; the lab's fault switch fails a task once after its side effect).
 */
let lab: Lab;
let d: LabDeployment;
const sfn = () => new SFNClient({});

useDeployedLab({ probeRunMs: 170000 }, (x) => {
  ({ lab, d } = x);
});

describe('the lab deployment', () => {
  it('deploys the synthesized definition unchanged (the fault switch lives in the task functions, not the workflow)', async () => {
    const deployed = await sfn().send(new DescribeStateMachineCommand({ stateMachineArn: d.stateMachineArn }));
    expect(JSON.parse(deployed.definition!)).toEqual(JSON.parse(d.definition));
  });

  it('gives database credentials only to the functions the stack lets read the secret (and the runs below work so)', async () => {
    const lambda = new LambdaClient({});
    for (const name of Object.keys(TASKS) as TaskName[]) {
      const c = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: d.functionNames[name] }));
      const env = c.Environment?.Variables ?? {};
      const connects = (TASKS[name].needs as readonly string[]).includes('postgres');
      expect({ name, access: env.PGQ_DB_ACCESS, hasPassword: 'PGQ_DB_PASSWORD' in env }).toEqual({
        name,
        access: connects ? undefined : 'none',
        hasPassword: connects,
      });
    }
  });
});

describe('a task that fails with Pgq.Retriable', () => {
  it('is retried by the state machine after its Retry interval, runs twice, and the run continues', async () => {
    await lab.reset();
    await lab.armFault('validate-input');
    // Without probes no quorum is confirmed: the run ends in NoFailover, having changed nothing.
    const { executionArn } = await sfn().send(
      new StartExecutionCommand({
        stateMachineArn: d.stateMachineArn,
        name: `lab-retry-${Date.now()}`,
        input: JSON.stringify({ mode: 'failover', cluster: LAB_CLUSTER, reason: 'test: a retried task' }),
      }),
    );
    const run = await waitForExecution(executionArn!, { runTimeoutMs: 60000 });
    expect(run.status).toBe('SUCCEEDED');
    const events = (await sfn().send(new GetExecutionHistoryCommand({ executionArn }))).events ?? [];
    const failed = events.filter((e) => e.type === 'TaskFailed');
    expect(failed.map((e) => e.taskFailedEventDetails?.error)).toEqual(['Pgq.Retriable']);
    const scheduled = events.filter((e) => e.type === 'TaskScheduled');
    const failedAt = failed[0]!.timestamp!.getTime();
    const retriedAt = scheduled.find((e) => e.timestamp!.getTime() >= failedAt)!.timestamp!.getTime();
    // The definition's IntervalSeconds (1 s) is honoured before the second attempt.
    expect(retriedAt - failedAt).toBeGreaterThanOrEqual(900);
    const { log } = await lab.faults();
    expect(log.filter((x) => x.task === 'validate-input').map((x) => x.failed)).toEqual([true, false]);
    expect(log.map((x) => x.task)).toEqual(expect.arrayContaining(['acquire-lease', 'confirm-quorum']));
  }, 90000);
});

describe('retry-commit drill', () => {
  afterEach(async () => {
    await stopProbes(d);
  }, 60000);

  it('kill -9 with Commit failing once after its lease write: the retry commits, nothing lost, one writer, rejoined', async () => {
    await lab.reset();
    await startProbes(d);
    await waitForHealthyVotes(30000);
    const t = await retryTrial(lab, d, 'commit');
    // The drill itself: the run reached Commit and the switch fired (what the product does next is reported).
    expect(t.faultFired).toBe(true);
    expect(t.ackedWrites).toBeGreaterThan(10);
    // Whatever the run's outcome, the node holding the data has every acknowledged write.
    expect(t.survivor).not.toBeNull();
    expect(t.lostOnSurvivor).toEqual([]);
    expect(t.lostAcknowledged).toEqual([]);
    expect(t.writablePrimaries.length).toBeLessThanOrEqual(1);
    // Issue 14: the retried Commit recognises its own write and the run finishes as if it had not failed.
    expect(t.outcome).toBe('failover');
    expect(t.taskCompletions).toBeGreaterThanOrEqual(2);
    expect(t.lease).toMatch(/^steady /);
    expect(t.writablePrimaries).toEqual([t.newPrimary]);
    expect(t.event?.rejoin).toMatch(/streams from/);
  }, 240000);
});

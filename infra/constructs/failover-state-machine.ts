import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { STEP_ERRORS } from '../../lambdas/core/contract';
import type { TaskName } from './tasks';

/** Errors a step may be retried on: our own transient class plus Lambda's service-side failures. */
export const RETRY_ERRORS = [
  STEP_ERRORS.retriable,
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  // A crashed or out-of-memory runtime: the epoch guard makes re-running the step safe.
  'Lambda.Unknown',
];

/** The error name of a candidate that failed after it was chosen (lambdas/handlers/task.ts): routed to Replan. */
export const CANDIDATE_FAILED = STEP_ERRORS.candidateFailed;

/** Seconds between two GetChange rounds of the post-commit INSYNC loop. @default 2 */
export const DNS_POLL_INTERVAL_SEC = 2;

/** Properties of the failover/switchover state machine. */
export interface FailoverStateMachineProps {
  readonly functions: Readonly<Record<TaskName, lambda.IFunction>>;
  readonly logGroup?: logs.ILogGroup;
}

/**
 * The failover and switchover workflow (docs/design.md section 3). Every task gets the
 * whole run state plus the execution name and returns the new state. Failures
 * before the lease is taken end with nothing changed; after it, a failed
 * candidate re-plans (Replan), a switchover that has not promoted rolls back
 * (RollbackSwitchover), and every other failure ends in Abort (lease to
 * needs-attention, one notification).
 */
export class FailoverStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: FailoverStateMachineProps) {
    super(scope, id);
    const fn = props.functions;

    const payload = sfn.TaskInput.fromObject({ 'state.$': '$', 'executionName.$': '$$.Execution.Name' });
    const invoke = (stateId: string, name: TaskName, opts: { attempts?: number; resultPath?: string } = {}) => {
      const t = new tasks.LambdaInvoke(this, stateId, {
        stateName: stateId,
        lambdaFunction: fn[name],
        payload,
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        ...(opts.resultPath ? { resultPath: opts.resultPath } : {}),
      });
      t.addRetry({
        errors: RETRY_ERRORS,
        interval: Duration.seconds(1),
        backoffRate: 2,
        maxAttempts: opts.attempts ?? 3,
        maxDelay: Duration.seconds(8),
      });
      return t;
    };

    // Failure paths.
    const failed = new sfn.Fail(this, 'Failed', {
      stateName: 'Failed',
      error: 'PgQuorum.Aborted',
      causePath: '$.error.Cause',
    });
    const abort = invoke('Abort', 'abort', { attempts: 4 });
    abort.addCatch(new sfn.Fail(this, 'AbortFailed', { stateName: 'AbortFailed', error: 'PgQuorum.AbortFailed' }), {
      resultPath: '$.abortError',
    });
    abort.next(failed);
    const rejected = new sfn.Fail(this, 'InputRejected', {
      stateName: 'InputRejected',
      error: 'PgQuorum.InputRejected',
      causePath: '$.error.Cause',
    });
    const notAcquired = new sfn.Fail(this, 'LeaseNotAcquired', {
      stateName: 'LeaseNotAcquired',
      error: 'PgQuorum.LeaseNotAcquired',
      causePath: '$.error.Cause',
    });
    const guarded = <T extends tasks.LambdaInvoke>(t: T) => {
      t.addCatch(abort, { errors: ['States.ALL'], resultPath: '$.error' });
      return t;
    };

    const validate = invoke('ValidateInput', 'validate-input', { attempts: 2 });
    validate.addCatch(rejected, { errors: ['States.ALL'], resultPath: '$.error' });
    const acquire = invoke('AcquireLease', 'acquire-lease');
    acquire.addCatch(notAcquired, { errors: ['States.ALL'], resultPath: '$.error' });

    const done = new sfn.Succeed(this, 'Done', { stateName: 'Done' });
    const noFailover = new sfn.Succeed(this, 'NoFailover', {
      stateName: 'NoFailover',
      comment: 'quorum not confirmed: lease released',
    });

    const repoint = (stateId: string, onCandidateFailed?: sfn.IChainable) => {
      const m = new sfn.Map(this, stateId, {
        stateName: stateId,
        itemsPath: '$.replicas',
        itemSelector: { 'state.$': '$', 'item.$': '$$.Map.Item.Value', 'executionName.$': '$$.Execution.Name' },
        resultPath: '$.repointed',
        maxConcurrency: 4,
      });
      const one = new tasks.LambdaInvoke(this, `${stateId}One`, {
        stateName: `${stateId}One`,
        lambdaFunction: fn['repoint-replica'],
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
      });
      one.addRetry({ errors: RETRY_ERRORS, interval: Duration.seconds(1), backoffRate: 2, maxAttempts: 3 });
      m.itemProcessor(one);
      if (onCandidateFailed) m.addCatch(onCandidateFailed, { errors: [CANDIDATE_FAILED], resultPath: '$.error' });
      m.addCatch(abort, { errors: ['States.ALL'], resultPath: '$.error' });
      return m;
    };

    // Post-commit rejoin: best effort, its own failure never fails the run. Settle runs after it either way
    // (outside the VPC: the reader record; a crashed rejoin marks the node needs-rejoin), and its failure ends in Done.
    const settle = (stateId: string) => {
      const t = invoke(stateId, 'settle-rejoin', { attempts: 3 });
      t.addCatch(done, { errors: ['States.ALL'], resultPath: '$.settleError' });
      return t.next(done);
    };
    const settleFailover = settle('SettleRejoin');
    const settleSwitchover = settle('SettleRestart');
    const rejoin = invoke('RejoinOldPrimary', 'rejoin-old-primary', { attempts: 2 });
    rejoin.addCatch(settleFailover, { errors: ['States.ALL'], resultPath: '$.rejoinError' });
    const restartOld = invoke('RestartOldAsReplica', 'restart-old-as-replica', { attempts: 2 });
    restartOld.addCatch(settleSwitchover, { errors: ['States.ALL'], resultPath: '$.rejoinError' });

    // After the commit: poll Route 53 for INSYNC, one GetChange round per invocation with a Wait state between,
    // bounded in core (dns-wait.ts). It only records when resolvers see the records; any failure goes on.
    const dnsWait = (suffix: string, next: sfn.IChainable) => {
      const check = invoke(`CheckDnsInsync${suffix}`, 'check-dns-insync', { attempts: 2 });
      check.addCatch(next, { errors: ['States.ALL'], resultPath: '$.dnsWaitError' });
      const wait = new sfn.Wait(this, `WaitForDns${suffix}`, {
        stateName: `WaitForDns${suffix}`,
        time: sfn.WaitTime.duration(Duration.seconds(DNS_POLL_INTERVAL_SEC)),
      });
      wait.next(check);
      return check.next(
        new sfn.Choice(this, `DnsInsync${suffix}?`, { stateName: `DnsInsync${suffix}?` })
          .when(sfn.Condition.booleanEquals('$.dnsWait.done', true), next)
          .otherwise(wait),
      );
    };

    // Re-plan (issue 13): a candidate that fails after it was chosen (Promote fails, it stops answering as the
    // new primary while replicas are re-pointed) is fenced and excluded by Replan, which loops back to
    // SelectCandidate; Replan's own refusal (no node left, maxReplans reached, the fence failed) goes to Abort.
    const selectCandidate = guarded(invoke('SelectCandidate', 'select-candidate'));
    const replan = guarded(invoke('Replan', 'replan'));
    replan.next(selectCandidate);
    // ConfirmCandidate probes the promoted candidate before Commit: one that died after the last re-point is given
    // up and replaced like one that died during it (the catch goes before guarded's States.ALL: first match wins).
    const replansOn = <T extends tasks.LambdaInvoke>(t: T) => {
      t.addCatch(replan, { errors: [CANDIDATE_FAILED], resultPath: '$.error' });
      return t;
    };
    const promote = invoke('Promote', 'promote');
    promote.addCatch(replan, { errors: ['States.ALL'], resultPath: '$.error' });
    const failover = guarded(invoke('ConfirmQuorum', 'confirm-quorum')).next(
      new sfn.Choice(this, 'QuorumConfirmed?', { stateName: 'QuorumConfirmed?' })
        .when(sfn.Condition.booleanEquals('$.quorumConfirmed', false), noFailover)
        .otherwise(
          selectCandidate.next(
            // After a re-plan the old primary's fence is already proven (the run's record keeps it): straight to
            // Promote, so a second candidate does not wait out the fence of a dead host again.
            new sfn.Choice(this, 'FenceProven?', { stateName: 'FenceProven?' })
              .when(sfn.Condition.isPresent('$.replan'), promote)
              .otherwise(
                guarded(invoke('Fence', 'fence'))
                  // Proving the fence can take a few seconds on EC2 (SSM): more attempts, same backoff.
                  .next(guarded(invoke('VerifyFence', 'verify-fence', { attempts: 5 })))
                  .next(promote),
              ),
          ),
        ),
    );
    promote
      // In quorum-sync mode the new primary commits once one replica streams from it: re-point first,
      // then UPSERT the records (no INSYNC wait), then commit. DNS is off the write path.
      .next(repoint('RepointReplicas', replan))
      .next(guarded(invoke('FlipDns', 'flip-dns')))
      .next(guarded(replansOn(invoke('ConfirmCandidate', 'confirm-candidate'))))
      .next(guarded(invoke('Commit', 'commit', { attempts: 4 })))
      .next(dnsWait('', rejoin.next(settleFailover)));

    // Switchover rollback (invariant 9): a failure after the old primary was stopped and before the target is
    // promoted restarts the old primary as primary instead of aborting. Core decides whether that is safe (no
    // promotion recorded or seen); when not, RollbackSwitchover fails into Abort with the reason.
    const rolledBack = new sfn.Succeed(this, 'RolledBack', {
      stateName: 'RolledBack',
      comment: 'switchover rolled back: the old primary is the primary again',
    });
    const finishRollback = guarded(invoke('FinishRollback', 'finish-rollback', { attempts: 4 })).next(rolledBack);
    const rollback = guarded(invoke('RollbackSwitchover', 'rollback-switchover', { attempts: 3 })).next(finishRollback);
    const rollsBack = <T extends tasks.LambdaInvoke>(t: T, stateId: string) => {
      const from = new sfn.Pass(this, `${stateId}Failed`, {
        stateName: `${stateId}Failed`,
        result: sfn.Result.fromString(stateId),
        resultPath: '$.rollbackFrom',
      });
      from.next(rollback);
      t.addCatch(from, { errors: ['States.ALL'], resultPath: '$.error' });
      return t;
    };

    const switchover = guarded(invoke('CheckTarget', 'select-candidate'))
      .next(rollsBack(invoke('StopOldPrimary', 'stop-old-primary'), 'StopOldPrimary'))
      .next(rollsBack(invoke('WaitForReplay', 'wait-for-replay'), 'WaitForReplay'))
      .next(rollsBack(invoke('PromoteTarget', 'promote'), 'PromoteTarget'))
      .next(repoint('RepointOthers'))
      .next(guarded(invoke('FlipDnsToTarget', 'flip-dns')))
      .next(guarded(invoke('CommitSwitchover', 'commit', { attempts: 4 })))
      .next(dnsWait('Switchover', restartOld.next(settleSwitchover)));

    const definition = validate
      .next(acquire)
      .next(
        new sfn.Choice(this, 'Mode', { stateName: 'Mode' })
          .when(sfn.Condition.stringEquals('$.input.mode', 'switchover'), switchover)
          .otherwise(failover),
      );

    this.stateMachine = new sfn.StateMachine(this, 'Resource', {
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: Duration.minutes(30),
      tracingEnabled: true,
      logs: props.logGroup
        ? { destination: props.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true }
        : undefined,
    });
  }
}

/**
 * Every bench scenario, in the order `npm run bench -- --scenario all` runs them: its name, how one trial runs
 * (`run`), how that trial's result becomes a row of the bench's table and JSON (`toRow`), and what the scenario needs
 * of the lab (replication mode, controller settings, a cap on its trials). The bench iterates this list; the
 * end-to-end tests call the trials in ./scenarios directly.
 */
import { compareLsn, lsnDiff } from '../../lambdas/core/lsn';
import type { ControllerSettings } from '../../lambdas/core/settings';
import type { LabDeployment } from '../deployer/deploy';
import type { CloudProfileName } from '../world/cloud-profile';
import type { Lab } from '../world/index';
import {
  azCutTrial,
  type CandidateKillMoment,
  candidateBehindTrial,
  candidateKillTrial,
  controllerCrashTrial,
  doubleTriggerTrial,
  emulatorDownTrial,
  type FailoverTrial,
  HOST_FAULTS,
  type HostFault,
  hostFaultTrial,
  kill9Trial,
  livePartitionTrial,
  pauseLongTrial,
  pauseShortTrial,
  RETRY_DRILLS,
  replanExhaustedTrial,
  retryTrial,
  slowEmulatorTrial,
  switchoverRollbackTrial,
  switchoverTrial,
  syncStandbyLossTrial,
  unnamedPrimaryTrial,
} from './scenarios';

/** One trial's outcome, flattened for the table. */
export interface Row {
  scenario: string;
  /** The cloud-behaviour profile the trial ran under. */
  cloud?: CloudProfileName;
  trial: number;
  ok: boolean;
  outcome: string;
  rtoMs: number | null;
  /** The DNS-free client's RTO (every node's address, libpq multi-host read-write), where the trial ran one. */
  rtoDirectMs?: number | null;
  writesLost: number;
  falseFailover: boolean;
  splitBrainWrites: number;
  detail: Record<string, unknown>;
}

/** One bench scenario. */
export interface Scenario<T = unknown> {
  readonly name: string;
  /** Runs one trial on a reset lab with the controller deployed (probes running, votes healthy). */
  run(lab: Lab, d: LabDeployment, trial: number): Promise<T>;
  /** The trial's row: its figures and whether it passed. */
  toRow(result: T, trial: number): Row;
  /** The lab's replication mode for this scenario (default sync; the bench restarts the lab to change it). */
  readonly replication?: 'sync' | 'async';
  /** Controller settings other than the defaults (the bench redeploys the controller with them). */
  readonly settings?: Partial<ControllerSettings>;
  /** At most this many trials, whatever `--trials` says. */
  readonly maxTrials?: number;
}

/** Erases a scenario's result type so that scenarios of every kind sit in one list. */
function scenario<T>(s: Scenario<T>): Scenario {
  return s as Scenario;
}

/** The bench's progress lines (stderr): the drills that narrate their steps print through it too. */
export const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);

function fromFailover(scenario: string, trial: number, t: FailoverTrial, extraOk = true): Row {
  return {
    scenario,
    trial,
    ok: t.outcome === 'failover' && t.lostAcknowledged.length === 0 && extraOk,
    outcome: t.outcome,
    rtoMs: t.rtoMs,
    ...(t.rtoDirectMs !== undefined ? { rtoDirectMs: t.rtoDirectMs } : {}),
    writesLost: t.lostAcknowledged.length + (t.lostDirect?.length ?? 0),
    falseFailover: false,
    splitBrainWrites: 0,
    detail: {
      detectMs: t.detectMs,
      writerPropagationMs: t.writerPropagationMs ?? null,
      ackedWrites: t.ackedWrites,
      bytesAtRisk: t.bytesAtRisk,
      newPrimary: t.newPrimary,
      rejoin: t.event?.rejoin,
      lostTransactions: t.event?.lostTransactions?.length ?? 0,
      unacknowledgedLocalCommits: t.load.unacknowledgedLocalCommits.length,
      ...(t.noStart ? { noStart: t.noStart } : {}),
    },
  };
}

const kill9 = scenario({
  name: 'kill9',
  run: (lab, d) => kill9Trial(lab, d),
  toRow: (t, i) => fromFailover('kill9', i, t),
});

/**
 * A double fault: a replica already dead when the primary is killed. The quorum fence cannot be proven without it, so
 * the fence waits for the SSM stop; the survivor is promoted, and (quorum sync) commits again once the old primary
 * has rejoined as its standby.
 */
const kill9ReplicaDown = scenario({
  name: 'kill9-replica-down',
  run: (lab, d) => kill9Trial(lab, d, { replicasDown: 1, ackWaitMs: 60000 }),
  toRow: (t, i) => {
    const row = fromFailover(
      'kill9-replica-down',
      i,
      t,
      t.event?.timeline.some((s) => s.step === 'fence-sever') ?? false,
    );
    return {
      ...row,
      detail: { ...row.detail, fence: t.event?.timeline.find((s) => s.step === 'fence-quorum-detach')?.detail },
    };
  },
});

function splitBrain(s: 'pause-long' | 'live-partition'): Scenario {
  return scenario({
    name: s,
    run: (lab, d) => (s === 'pause-long' ? pauseLongTrial(lab, d) : livePartitionTrial(lab, d)),
    toRow: (t, i) => {
      const row = fromFailover(s, i, t, t.splitBrainWrites === 0);
      return {
        ...row,
        splitBrainWrites: t.splitBrainWrites,
        detail: { ...row.detail, heldSessionAttempts: t.heldSessionAttempts },
      };
    },
  });
}

const doubleTrigger = scenario({
  name: 'double-trigger',
  run: (lab, d) => doubleTriggerTrial(lab, d),
  toRow: (t, i) => {
    const row = fromFailover('double-trigger', i, t, t.committedFailovers === 1);
    return { ...row, detail: { ...row.detail, executions: t.executions, committedFailovers: t.committedFailovers } };
  },
});

const pauseShort = scenario({
  name: 'pause-short',
  run: (lab, d) => pauseShortTrial(lab, d, 1500),
  toRow: (t, i) => ({
    scenario: 'pause-short',
    trial: i,
    ok: !t.failoverStarted,
    outcome: t.failoverStarted ? 'FALSE FAILOVER' : 'no failover',
    rtoMs: null,
    writesLost: 0,
    falseFailover: t.failoverStarted,
    splitBrainWrites: 0,
    detail: { ...t },
  }),
});

function noFailover(s: 'az-cut' | 'emulator-down'): Scenario {
  return scenario({
    name: s,
    run: async (lab, d) => (s === 'az-cut' ? await azCutTrial(lab, d) : await emulatorDownTrial(lab, d)),
    toRow: (t, i) => {
      const recovered = 'recovered' in t ? Boolean(t.recovered) : true;
      return {
        scenario: s,
        trial: i,
        ok: !t.falseFailover && recovered,
        outcome: t.falseFailover ? 'FALSE FAILOVER' : 'no failover',
        rtoMs: null,
        writesLost: 0,
        falseFailover: t.falseFailover,
        splitBrainWrites: 0,
        detail: t as unknown as Record<string, unknown>,
      };
    },
  });
}

const controllerCrash = scenario({
  name: 'controller-crash',
  maxTrials: 3,
  run: (lab, d) => controllerCrashTrial(lab, d),
  toRow: (t, i) => {
    // A pg_promote sent before the injected hang can complete after the abort: that one promotion may be left
    // behind. The rerun finishes it (adopts that node), unless the run gave the node up: then it stays fenced
    // and marked needs-reclone, and the rerun promotes a replica the run did not give up.
    const leftBehind = t.primariesAfterFirstRun[0];
    const clean =
      t.leaseAfterFirstRun.startsWith('needs-attention') &&
      t.primariesAfterFirstRun.length <= 1 &&
      (!leftBehind || t.newPrimary === leftBehind || t.excluded.includes(leftBehind));
    return {
      scenario: 'controller-crash',
      trial: i,
      ok: clean && t.rerun === 'SUCCEEDED' && t.lostAcknowledged.length === 0,
      outcome: `first run ${t.firstRun.split(':')[0]}, lease ${t.leaseAfterFirstRun.split(' ')[0]}, ${
        leftBehind ? `promotion of ${leftBehind} left behind, ` : ''
      }rerun ${t.rerun}${leftBehind && t.newPrimary === leftBehind ? ' (adopted it)' : ''}`,
      rtoMs: null,
      writesLost: t.lostAcknowledged.length,
      falseFailover: false,
      splitBrainWrites: 0,
      detail: { ...t },
    };
  },
});

const switchover = scenario({
  name: 'switchover',
  run: (lab, d) => switchoverTrial(lab, d),
  toRow: (t, i) => ({
    scenario: 'switchover',
    trial: i,
    ok: t.executionStatus === 'SUCCEEDED' && t.lostAcknowledged.length === 0,
    outcome: t.executionStatus === 'SUCCEEDED' ? `switchover to ${t.newPrimary}` : `FAILED ${t.cause ?? ''}`,
    rtoMs: t.writePauseMs,
    writesLost: t.lostAcknowledged.length,
    falseFailover: false,
    splitBrainWrites: 0,
    detail: { writePauseMs: t.writePauseMs, ackedWrites: t.ackedWrites, rejoin: t.event?.rejoin },
  }),
});

function switchoverRollback(s: 'switchover-rollback' | 'switchover-target-dies'): Scenario {
  return scenario({
    name: s,
    run: (lab, d) =>
      switchoverRollbackTrial(lab, d, 'pg2', s === 'switchover-rollback' ? 'replay-paused' : 'target-dies'),
    toRow: (t, i) => {
      const ok =
        t.pausedOnTime &&
        (s === 'switchover-rollback' || t.targetIngress === 'fenced') &&
        t.outcome === 'rolled-back' &&
        t.leaseState === 'steady' &&
        t.leasePrimary === t.oldPrimary &&
        t.oldPrimaryWritable &&
        t.lostAcknowledged.length === 0 &&
        t.maxWritablePrimaries <= 1;
      return {
        scenario: s,
        trial: i,
        ok,
        outcome: t.outcome === 'rolled-back' ? 'rolled-back' : `${t.outcome} ${t.cause ?? t.reason}`,
        rtoMs: t.writePauseMs,
        writesLost: t.lostAcknowledged.length,
        falseFailover: false,
        splitBrainWrites: t.maxWritablePrimaries > 1 ? t.maxWritablePrimaries - 1 : 0,
        detail: {
          writePauseMs: t.writePauseMs,
          ackedWrites: t.ackedWrites,
          lease: `${t.leaseState} ${t.leasePrimary}`,
          writer: t.writer,
          oldPrimaryWritable: t.oldPrimaryWritable,
          pausedOnTime: t.pausedOnTime,
          targetIngress: t.targetIngress,
          reason: t.reason,
        },
      };
    },
  });
}

const asyncKill9 = scenario({
  name: 'async-kill9',
  replication: 'async',
  maxTrials: 3,
  // The replicas keep up on loopback: cut replication for 1.5 s first, so the kill loses acknowledged writes.
  run: (lab, d) => kill9Trial(lab, d, { replicationCutMs: 1500 }),
  toRow: (t, i) => {
    // Reported bytes at risk must cover the real loss: the WAL between the promoted LSN and the last commit only
    // the old primary has (pg_waldump at rejoin), whenever an acknowledged write was lost.
    const lostLsns = (t.event?.lostTransactions ?? []).map((l) => /lsn=([0-9A-F]+\/[0-9A-F]+)/.exec(l)?.[1]);
    const lastLost = lostLsns
      .filter((x): x is string => !!x)
      .sort((a, b) => compareLsn(a, b))
      .at(-1);
    const promoted = t.event?.promotedLsn;
    const realLossBytes = lastLost && promoted ? lsnDiff(lastLost, promoted) : 0n;
    const reported = BigInt(t.bytesAtRisk ?? '0');
    const covered = t.lostAcknowledged.length === 0 || (reported > 0n && reported >= realLossBytes);
    const row = fromFailover('async-kill9', i, t);
    return {
      ...row,
      ok: t.outcome === 'failover' && covered,
      detail: {
        ...row.detail,
        lostAcknowledgedIds: t.lostAcknowledged.slice(0, 20),
        realLossBytes: realLossBytes.toString(),
        bytesAtRiskCoversLoss: covered,
      },
    };
  },
});

function retry(s: keyof typeof RETRY_DRILLS): Scenario {
  return scenario({
    name: s,
    run: (lab, d) => retryTrial(lab, d, RETRY_DRILLS[s]),
    toRow: (t, i) => {
      // Issue 14's bar: the retried step is safe, so the failover commits as if it had not failed (the retry ran,
      // the lease is steady, the old primary rejoined), with nothing lost and one writer.
      const ok =
        t.faultFired &&
        t.outcome === 'failover' &&
        t.taskCompletions >= 2 &&
        t.lease.startsWith('steady ') &&
        /streams from/.test(t.event?.rejoin ?? '') &&
        t.writablePrimaries.length <= 1 &&
        !t.lostOnSurvivor.length;
      const row = fromFailover(s, i, t, ok);
      return {
        ...row,
        // Counted on the node holding the data whatever the outcome (an aborted run has no committed new primary).
        writesLost: t.lostOnSurvivor.length,
        // Completions count invocations that finished their work (the faulted one included): 1 means the retry failed.
        outcome: `${t.outcome}, ${t.task} ${t.faultFired ? `faulted, ${t.taskCompletions} completed invocation(s)` : 'fault NOT fired'}, lease ${t.lease.split(' ')[0]}`,
        detail: {
          ...row.detail,
          task: t.task,
          faultFired: t.faultFired,
          taskCompletions: t.taskCompletions,
          lease: t.lease,
          writablePrimaries: t.writablePrimaries,
          survivor: t.survivor,
          executionStatus: t.executionStatus,
        },
      };
    },
  });
}

const slowEmulator = scenario({
  name: 'slow-emulator',
  run: (lab, d) => slowEmulatorTrial(lab, d),
  toRow: (t, i) => {
    const row = fromFailover('slow-emulator', i, t);
    return { ...row, detail: { ...row.detail, slowMs: t.slowMs } };
  },
});

function hostFault(s: HostFault): Scenario {
  return scenario({
    name: s,
    run: (lab, d) => hostFaultTrial(lab, d, s, { onProgress: log }),
    toRow: (t, i) => {
      const row = fromFailover(s, i, t, t.splitBrainWrites === 0 && t.writableAtEnd.length <= 1);
      return {
        ...row,
        outcome: t.outcome === 'failover' ? 'failover' : `${t.outcome} (lease ${t.leaseAfter.split(' ')[0]})`,
        splitBrainWrites: t.splitBrainWrites,
        detail: {
          ...row.detail,
          heldSessionAttempts: t.heldSessionAttempts,
          leaseAfter: t.leaseAfter,
          writableAtEnd: t.writableAtEnd,
          ssm: t.ssm,
          executionStatus: t.executionStatus,
        },
      };
    },
  });
}

const syncStandbyLoss = scenario({
  name: 'sync-standby-loss',
  // The bench deploys the default policy, block: no commit may be acknowledged without a standby.
  run: (lab) => syncStandbyLossTrial(lab),
  toRow: (t, i) => ({
    scenario: 'sync-standby-loss',
    trial: i,
    ok: t.detectMs !== null && t.pages === 2 && t.commitAckedMs === null && !t.degraded && !t.runStarted,
    outcome:
      t.detectMs === null ? 'not detected' : t.commitAckedMs === null ? 'blocked, paged' : 'acked without a standby',
    rtoMs: null,
    writesLost: 0,
    falseFailover: t.runStarted,
    splitBrainWrites: 0,
    detail: { ...t },
  }),
});

const unnamedPrimary = scenario({
  name: 'unnamed-primary',
  run: (lab) => unnamedPrimaryTrial(lab),
  toRow: (t, i) => ({
    scenario: 'unnamed-primary',
    trial: i,
    ok: t.detectMs !== null && t.pages === 1 && !t.runStarted,
    outcome: t.detectMs === null ? 'not detected' : 'paged',
    rtoMs: null,
    writesLost: 0,
    falseFailover: t.runStarted,
    splitBrainWrites: 0,
    detail: { ...t },
  }),
});

function candidateKill(moment: CandidateKillMoment): Scenario {
  const s = `candidate-kill-${moment}`;
  return scenario({
    name: s,
    run: (lab, d) => candidateKillTrial(lab, d, moment, { onProgress: log }),
    toRow: (t, i) => {
      // Every moment passes only when the run re-planned on its own (the killed candidate fenced): before-commit
      // too, since ConfirmCandidate probes the candidate before Commit. Always: one writer, nothing lost.
      const ok =
        t.killedCandidate !== null &&
        t.outcome === 'failover' &&
        t.excluded.includes(t.killedCandidate) &&
        t.killedIngress === 'fenced' &&
        t.writablePrimaries.length <= 1 &&
        !t.lostOnSurvivor.length;
      const row = fromFailover(s, i, t, ok);
      return {
        ...row,
        writesLost: t.lostOnSurvivor.length,
        outcome: `${t.outcome}${t.degraded.length ? ' (committed-degraded)' : ''}, killed ${t.killedCandidate ?? 'none'}, excluded [${t.excluded.join(', ')}], ingress ${t.killedIngress ?? '-'}`,
        detail: {
          ...row.detail,
          killedCandidate: t.killedCandidate,
          killedAtMs: t.killedAtMs,
          excluded: t.excluded,
          killedIngress: t.killedIngress,
          lease: t.lease,
          writablePrimaries: t.writablePrimaries,
          degraded: t.degraded,
          executionStatus: t.executionStatus,
        },
      };
    },
  });
}

const candidateBehind = scenario({
  name: 'candidate-behind-after-fence',
  run: (lab, d) => candidateBehindTrial(lab, d, { onProgress: log }),
  toRow: (t, i) => {
    // Promote's post-fence re-check: the starved candidate given up, the other replica promoted, nothing lost.
    const ok =
      t.chosen !== null &&
      t.ackedAfterFreeze > 0 &&
      t.excluded.includes(t.chosen) &&
      t.newPrimary !== t.chosen &&
      t.writablePrimaries.length <= 1;
    const row = fromFailover('candidate-behind-after-fence', i, t, ok);
    return {
      ...row,
      // The old primary keeps acknowledging until the fence, so "fault to first write" measures nothing here:
      // the write pause (the load's longest gap) is the figure.
      rtoMs: null,
      outcome: `${t.outcome}, chose ${t.chosen ?? 'none'}, excluded [${t.excluded.join(', ')}], new primary ${t.newPrimary ?? 'none'}, write pause ${(t.load.maxGapMs / 1000).toFixed(2)} s`,
      detail: {
        ...row.detail,
        chosen: t.chosen,
        ackedAfterFreeze: t.ackedAfterFreeze,
        replanReason: t.replanReason,
        writablePrimaries: t.writablePrimaries,
        executionStatus: t.executionStatus,
      },
    };
  },
});

const replanExhausted = scenario({
  name: 'replan-exhausted',
  // The first failed candidate exhausts the re-plans: the drill of the give-up path (issue 13).
  settings: { maxReplans: 0 },
  run: (lab, d) => replanExhaustedTrial(lab, d, { onProgress: log }),
  toRow: (t, i) => {
    // The give-up path: needs-attention with the next command, both nodes fenced, no writer, nothing lost.
    const ok =
      t.killedCandidate !== null &&
      t.leaseState === 'needs-attention' &&
      /maxReplans 0 reached: needs attention; check .*npx pgquorum failover --to NODE --force/.test(t.reason) &&
      t.killedIngress === 'fenced' &&
      t.oldPrimaryIngress === 'fenced' &&
      t.writablePrimaries.length === 0 &&
      !t.lostOnSurvivor.length;
    return {
      ...fromFailover('replan-exhausted', i, t),
      ok,
      writesLost: t.lostOnSurvivor.length,
      outcome: `${t.leaseState}, killed ${t.killedCandidate ?? 'none'}, ingress ${t.killedIngress ?? '-'}/${t.oldPrimaryIngress ?? '-'} (candidate/old primary), writers [${t.writablePrimaries.join(', ')}]`,
      detail: {
        killedCandidate: t.killedCandidate,
        killedAtMs: t.killedAtMs,
        reason: t.reason,
        remaining: t.remaining,
        ackedWrites: t.ackedWrites,
        survivor: t.survivor,
        executionStatus: t.executionStatus,
      },
    };
  },
});

/** Every scenario the bench knows, in the order `all` runs them. */
export const SCENARIOS: readonly Scenario[] = [
  kill9,
  kill9ReplicaDown,
  pauseShort,
  splitBrain('pause-long'),
  noFailover('az-cut'),
  splitBrain('live-partition'),
  noFailover('emulator-down'),
  controllerCrash,
  doubleTrigger,
  switchover,
  switchoverRollback('switchover-rollback'),
  switchoverRollback('switchover-target-dies'),
  asyncKill9,
  retry('retry-commit'),
  retry('retry-confirm-quorum'),
  retry('retry-fence'),
  retry('retry-promote'),
  retry('retry-repoint-replicas'),
  slowEmulator,
  ...HOST_FAULTS.map(hostFault),
  syncStandbyLoss,
  unnamedPrimary,
  candidateKill('entering-promote'),
  candidateKill('after-promote'),
  candidateKill('before-commit'),
  candidateBehind,
  replanExhausted,
];

/** The scenarios' names, in the same order. */
export const SCENARIO_NAMES: readonly string[] = SCENARIOS.map((s) => s.name);

/** Names that stand for several scenarios. */
export const ALIASES: Record<string, readonly string[]> = { 'host-loss': ['host-loss-running', 'host-loss-stopped'] };

/** The scenario of that name, if the bench knows it. */
export function scenarioNamed(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}

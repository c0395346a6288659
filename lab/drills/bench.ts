/**
 * `npm run bench -- --scenario <name|all> --trials N [--cloud ideal|aws] [--json]`: failure drills on
 * the lab, measured against docs/design.md section 6. Prints a table per scenario and
 * writes every trial as JSON under .bench/. Figures, not assertions: the
 * end-to-end tests assert outcomes; this measures them, several times.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { quietNode20Warning } from '../../lambdas/adapters/aws/clients';
import { compareLsn, lsnDiff } from '../../lambdas/core/lsn';
import type { ControllerSettings } from '../../lambdas/core/settings';
import { deployToLab, type LabDeployment, restartProbes, stopProbes, undeployFromLab } from '../deployer/deploy';
import { CLOUD_PROFILES, type CloudProfileName, cloudProfile } from '../world/cloud-profile';
import { Lab } from '../world/index';
import { REPO_ROOT } from '../world/paths';
import { waitPortFree } from '../world/procs';
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
  waitForHealthyVotes,
} from './scenarios';

quietNode20Warning();

/** Every scenario the bench knows, in the order `all` runs them. */
export const SCENARIOS = [
  'kill9',
  'pause-short',
  'pause-long',
  'az-cut',
  'live-partition',
  'emulator-down',
  'controller-crash',
  'double-trigger',
  'switchover',
  'switchover-rollback',
  'switchover-target-dies',
  'async-kill9',
  'retry-commit',
  'retry-confirm-quorum',
  'retry-fence',
  'retry-promote',
  'retry-repoint-replicas',
  'slow-emulator',
  ...HOST_FAULTS,
  'sync-standby-loss',
  'unnamed-primary',
  'candidate-kill-entering-promote',
  'candidate-kill-after-promote',
  'candidate-kill-before-commit',
  'candidate-behind-after-fence',
  'replan-exhausted',
] as const;
/** Scenarios that need the controller deployed with other settings than the defaults (redeployed for them). */
const SCENARIO_SETTINGS: Partial<Record<Scenario, Partial<ControllerSettings>>> = {
  // The first failed candidate exhausts the re-plans: the drill of the give-up path (issue 13).
  'replan-exhausted': { maxReplans: 0 },
};
/** Names that stand for several scenarios. */
const ALIASES: Record<string, readonly Scenario[]> = { 'host-loss': ['host-loss-running', 'host-loss-stopped'] };
type Scenario = (typeof SCENARIOS)[number];

/** One trial's outcome, flattened for the table. */
interface Row {
  scenario: Scenario;
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

const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);

function pct(xs: number[], p: number): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

function fromFailover(scenario: Scenario, trial: number, t: FailoverTrial, extraOk = true): Row {
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

async function runTrial(s: Scenario, i: number, lab: Lab, d: LabDeployment): Promise<Row> {
  switch (s) {
    case 'kill9':
      return fromFailover(s, i, await kill9Trial(lab, d));
    case 'pause-long':
    case 'live-partition': {
      const t = s === 'pause-long' ? await pauseLongTrial(lab, d) : await livePartitionTrial(lab, d);
      const row = fromFailover(s, i, t, t.splitBrainWrites === 0);
      return {
        ...row,
        splitBrainWrites: t.splitBrainWrites,
        detail: { ...row.detail, heldSessionAttempts: t.heldSessionAttempts },
      };
    }
    case 'double-trigger': {
      const t = await doubleTriggerTrial(lab, d);
      const row = fromFailover(s, i, t, t.committedFailovers === 1);
      return { ...row, detail: { ...row.detail, executions: t.executions, committedFailovers: t.committedFailovers } };
    }
    case 'pause-short': {
      const t = await pauseShortTrial(lab, d, 1500);
      return {
        scenario: s,
        trial: i,
        ok: !t.failoverStarted,
        outcome: t.failoverStarted ? 'FALSE FAILOVER' : 'no failover',
        rtoMs: null,
        writesLost: 0,
        falseFailover: t.failoverStarted,
        splitBrainWrites: 0,
        detail: { ...t },
      };
    }
    case 'az-cut':
    case 'emulator-down': {
      const t = s === 'az-cut' ? await azCutTrial(lab, d) : await emulatorDownTrial(lab, d);
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
    }
    case 'controller-crash': {
      const t = await controllerCrashTrial(lab, d);
      // A pg_promote sent before the injected hang can complete after the abort: that one promotion may be left
      // behind. The rerun finishes it (adopts that node), unless the run gave the node up: then it stays fenced
      // and marked needs-reclone, and the rerun promotes a replica the run did not give up.
      const leftBehind = t.primariesAfterFirstRun[0];
      const clean =
        t.leaseAfterFirstRun.startsWith('needs-attention') &&
        t.primariesAfterFirstRun.length <= 1 &&
        (!leftBehind || t.newPrimary === leftBehind || t.excluded.includes(leftBehind));
      return {
        scenario: s,
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
    }
    case 'switchover': {
      const t = await switchoverTrial(lab, d);
      return {
        scenario: s,
        trial: i,
        ok: t.executionStatus === 'SUCCEEDED' && t.lostAcknowledged.length === 0,
        outcome: t.executionStatus === 'SUCCEEDED' ? `switchover to ${t.newPrimary}` : `FAILED ${t.cause ?? ''}`,
        rtoMs: t.writePauseMs,
        writesLost: t.lostAcknowledged.length,
        falseFailover: false,
        splitBrainWrites: 0,
        detail: { writePauseMs: t.writePauseMs, ackedWrites: t.ackedWrites, rejoin: t.event?.rejoin },
      };
    }
    case 'switchover-rollback':
    case 'switchover-target-dies': {
      const t = await switchoverRollbackTrial(
        lab,
        d,
        'pg2',
        s === 'switchover-rollback' ? 'replay-paused' : 'target-dies',
      );
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
    }
    case 'retry-commit':
    case 'retry-confirm-quorum':
    case 'retry-fence':
    case 'retry-promote':
    case 'retry-repoint-replicas': {
      const t = await retryTrial(lab, d, RETRY_DRILLS[s]);
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
    }
    case 'candidate-kill-entering-promote':
    case 'candidate-kill-after-promote':
    case 'candidate-kill-before-commit': {
      const moment = s.slice('candidate-kill-'.length) as CandidateKillMoment;
      const t = await candidateKillTrial(lab, d, moment, { onProgress: log });
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
    }
    case 'candidate-behind-after-fence': {
      const t = await candidateBehindTrial(lab, d, { onProgress: log });
      // Promote's post-fence re-check: the starved candidate given up, the other replica promoted, nothing lost.
      const ok =
        t.chosen !== null &&
        t.ackedAfterFreeze > 0 &&
        t.excluded.includes(t.chosen) &&
        t.newPrimary !== t.chosen &&
        t.writablePrimaries.length <= 1;
      const row = fromFailover(s, i, t, ok);
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
    }
    case 'replan-exhausted': {
      const t = await replanExhaustedTrial(lab, d, { onProgress: log });
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
        ...fromFailover(s, i, t),
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
    }
    case 'host-loss-running':
    case 'host-loss-stopped':
    case 'az-outage':
    case 'hung-host': {
      const t = await hostFaultTrial(lab, d, s, { onProgress: log });
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
    }
    case 'slow-emulator': {
      const t = await slowEmulatorTrial(lab, d);
      const row = fromFailover(s, i, t);
      return { ...row, detail: { ...row.detail, slowMs: t.slowMs } };
    }
    case 'sync-standby-loss': {
      // The bench deploys the default policy, block: no commit may be acknowledged without a standby.
      const t = await syncStandbyLossTrial(lab);
      return {
        scenario: s,
        trial: i,
        ok: t.detectMs !== null && t.pages === 2 && t.commitAckedMs === null && !t.degraded && !t.runStarted,
        outcome:
          t.detectMs === null
            ? 'not detected'
            : t.commitAckedMs === null
              ? 'blocked, paged'
              : 'acked without a standby',
        rtoMs: null,
        writesLost: 0,
        falseFailover: t.runStarted,
        splitBrainWrites: 0,
        detail: { ...t },
      };
    }
    case 'unnamed-primary': {
      const t = await unnamedPrimaryTrial(lab);
      return {
        scenario: s,
        trial: i,
        ok: t.detectMs !== null && t.pages === 1 && !t.runStarted,
        outcome: t.detectMs === null ? 'not detected' : 'paged',
        rtoMs: null,
        writesLost: 0,
        falseFailover: t.runStarted,
        splitBrainWrites: 0,
        detail: { ...t },
      };
    }
    case 'async-kill9': {
      // The replicas keep up on loopback: cut replication for 1.5 s first, so the kill loses acknowledged writes.
      const t = await kill9Trial(lab, d, { replicationCutMs: 1500 });
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
      const row = fromFailover(s, i, t);
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
    }
  }
}

function summarize(rows: Row[]): string {
  const out: string[] = [];
  const head = [
    'scenario',
    'trials',
    'ok',
    'RTO/pause median',
    'p90',
    'max',
    'direct RTO median (max)',
    'writes lost',
    'false failovers',
    'split-brain writes',
    'outcome',
  ];
  const lines = [head];
  for (const s of SCENARIOS) {
    const r = rows.filter((x) => x.scenario === s);
    if (!r.length) continue;
    const rto = r.map((x) => x.rtoMs).filter((x): x is number => x !== null);
    const f = (v: number | null) => (v === null ? '-' : `${(v / 1000).toFixed(2)} s`);
    const outcomes = [...new Set(r.map((x) => x.outcome))].join('; ');
    lines.push([
      s,
      String(r.length),
      `${r.filter((x) => x.ok).length}/${r.length}`,
      f(pct(rto, 50)),
      f(pct(rto, 90)),
      f(rto.length ? Math.max(...rto) : null),
      (() => {
        const dr = r.map((x) => x.rtoDirectMs).filter((x): x is number => typeof x === 'number');
        return dr.length ? `${f(pct(dr, 50))} (${f(Math.max(...dr))})` : '-';
      })(),
      String(r.reduce((a, x) => a + x.writesLost, 0)),
      String(r.filter((x) => x.falseFailover).length),
      String(r.reduce((a, x) => a + x.splitBrainWrites, 0)),
      outcomes.slice(0, 60),
    ]);
  }
  const w = head.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  for (const l of lines) out.push(l.map((c, i) => c.padEnd(w[i]!)).join('  '));
  out.splice(1, 0, w.map((n) => '-'.repeat(n)).join('  '));
  return out.join('\n');
}

async function main(opts: { scenario: string; trials: string; cloud?: string; json?: boolean }): Promise<number> {
  const wanted: Scenario[] =
    opts.scenario === 'all'
      ? [...SCENARIOS]
      : opts.scenario
          .split(',')
          .map((x) => x.trim())
          .flatMap((x) => ALIASES[x] ?? [x as Scenario]);
  const bad = wanted.filter((s) => !SCENARIOS.includes(s));
  if (bad.length) {
    process.stderr.write(`bench: unknown scenario ${bad.join(', ')} (choose from: all, ${SCENARIOS.join(', ')})\n`);
    return 2;
  }
  const trials = Number(opts.trials);
  if (!Number.isInteger(trials) || trials < 1 || trials > 200) {
    process.stderr.write(`bench: --trials must be a whole number from 1 to 200, not '${opts.trials}'\n`);
    return 2;
  }
  const cloud = (opts.cloud ?? 'ideal') as CloudProfileName;
  if (!CLOUD_PROFILES.includes(cloud)) {
    process.stderr.write(`bench: --cloud must be one of ${CLOUD_PROFILES.join(', ')}, not '${opts.cloud}'\n`);
    return 2;
  }
  const running = await Lab.attach().catch(() => undefined);
  const startedLab = !running;
  // A running lab with another profile is restarted with this one, and given back as it was at the end.
  // Compared whole: a lab the tests started runs `aws` with shortened delays, which are not the bench's figures.
  const restoreCloud =
    running && JSON.stringify(running.cloud) !== JSON.stringify(cloudProfile(cloud)) ? running.cloud : undefined;
  if (running && restoreCloud) {
    log(
      `restarting the lab with the ${cloud} cloud profile as documented (it runs ${restoreCloud.name} as configured)`,
    );
    await Lab.down();
    await waitPortFree(running.state.controlPort);
  }
  const rows: Row[] = [];
  const started = new Date().toISOString();
  let lab = await Lab.up({ cloud, onProgress: (m) => log(m) });
  let mode: 'sync' | 'async' = lab.state.mode;
  let d: LabDeployment | undefined;
  let deployedSettings = '{}';
  try {
    for (const s of wanted) {
      const wantMode = s === 'async-kill9' ? 'async' : 'sync';
      const wantSettings = JSON.stringify(SCENARIO_SETTINGS[s] ?? {});
      if (wantMode !== mode || !d || wantSettings !== deployedSettings) {
        if (wantMode !== mode) {
          log(`restarting the lab in ${wantMode} replication`);
          await undeployFromLab().catch(() => undefined);
          await Lab.down();
          await waitPortFree(lab.state.controlPort);
          lab = await Lab.up({ async: wantMode === 'async', cloud, onProgress: (m) => log(m) });
          mode = wantMode;
        }
        await lab.reset();
        log('deploying the controller into the emulator');
        d = await deployToLab(lab, { probeRunMs: 600000, settings: SCENARIO_SETTINGS[s] ?? {} });
        deployedSettings = wantSettings;
      }
      const n = s === 'async-kill9' || s === 'controller-crash' ? Math.min(trials, 3) : trials;
      for (let i = 1; i <= n; i++) {
        await stopProbes(d);
        await lab.reset();
        await restartProbes(d);
        await waitForHealthyVotes(30000);
        log(`${s} trial ${i}/${n}`);
        const row = await runTrial(s, i, lab, d).catch(
          (err: Error): Row => ({
            scenario: s,
            trial: i,
            ok: false,
            outcome: `ERROR ${err.message.slice(0, 120)}`,
            rtoMs: null,
            writesLost: 0,
            falseFailover: false,
            splitBrainWrites: 0,
            detail: { error: err.message },
          }),
        );
        log(
          `${s} trial ${i}: ${row.ok ? 'ok' : 'NOT OK'} ${row.outcome}${row.rtoMs !== null ? `, ${(row.rtoMs / 1000).toFixed(2)} s` : ''}`,
        );
        if (row.detail.noStart) log(`no run started: ${JSON.stringify(row.detail.noStart)}`);
        rows.push({ ...row, cloud });
      }
    }
  } finally {
    if (d) await undeployFromLab().catch(() => undefined);
    if ((mode !== 'sync' || restoreCloud) && !startedLab) {
      await Lab.down();
      await waitPortFree(lab.state.controlPort);
      await Lab.up({ cloud: restoreCloud ?? cloud });
    } else if (startedLab) {
      await Lab.down();
    }
  }
  const result = {
    started,
    finished: new Date().toISOString(),
    machine: `${require('node:os').cpus().length} cores, ${Math.round(require('node:os').totalmem() / 2 ** 30)} GiB`,
    trials,
    cloud,
    rows,
  };
  const dir = path.join(REPO_ROOT, '.bench');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${started.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(result, null, 2));
  if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else process.stdout.write(`${summarize(rows)}\n\ncloud profile: ${cloud}\nresults: ${file}\n`);
  return rows.every((r) => r.ok) ? 0 : 1;
}

const program = new Command('bench')
  .description('failure drills on the lab')
  .option(
    '--scenario <name>',
    `all, or one or more (comma-separated) of: ${SCENARIOS.join(', ')} (host-loss: both host-loss variants)`,
    'kill9',
  )
  .option('--trials <n>', 'trials per scenario', '5')
  .option('--cloud <profile>', `cloud-behaviour profile: ${CLOUD_PROFILES.join(' or ')}`, 'ideal')
  .option('--json', 'print every trial as JSON')
  .action(async (opts: { scenario: string; trials: string; cloud?: string; json?: boolean }) => {
    process.exitCode = await main(opts).catch((err: Error) => {
      process.stderr.write(`bench: ${err.message}\n`);
      return 1;
    });
  });
void program.parseAsync(process.argv);

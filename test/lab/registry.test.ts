import { ALIASES, SCENARIO_NAMES, SCENARIOS, scenarioNamed } from '../../lab/drills/registry';
import type { FailoverTrial } from '../../lab/drills/scenarios';

/** The bench's scenarios, in the order `--scenario all` has always run them (and the table lists them). */
const ORDER = [
  'kill9',
  'kill9-replica-down',
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
  'host-loss-running',
  'host-loss-stopped',
  'az-outage',
  'hung-host',
  'sync-standby-loss',
  'unnamed-primary',
  'candidate-kill-entering-promote',
  'candidate-kill-after-promote',
  'candidate-kill-before-commit',
  'candidate-behind-after-fence',
  'replan-exhausted',
];

const trial: FailoverTrial = {
  scenario: 'kill9',
  outcome: 'failover',
  execution: 'x',
  executionStatus: 'SUCCEEDED',
  rtoMs: 4200,
  rtoDirectMs: 3900,
  lostDirect: [],
  writerPropagationMs: 0,
  detectMs: 3100,
  ackedWrites: 100,
  lostAcknowledged: [],
  bytesAtRisk: '0',
  newPrimary: 'pg2',
  load: { attempted: 101, unacknowledgedLocalCommits: [], errors: 1, maxGapMs: 4200, maxGapStart: 0 },
};

describe('the bench scenario registry', () => {
  it('lists every scenario once, in the order `all` runs them', () => {
    expect(SCENARIO_NAMES).toEqual(ORDER);
    expect(new Set(SCENARIO_NAMES).size).toBe(SCENARIOS.length);
  });

  it("keeps the host-loss alias and each scenario's needs of the lab", () => {
    expect(ALIASES['host-loss']).toEqual(['host-loss-running', 'host-loss-stopped']);
    const needs = SCENARIOS.filter((s) => s.replication || s.settings || s.maxTrials).map((s) => ({
      name: s.name,
      replication: s.replication,
      settings: s.settings,
      maxTrials: s.maxTrials,
    }));
    expect(needs).toEqual([
      { name: 'controller-crash', replication: undefined, settings: undefined, maxTrials: 3 },
      { name: 'async-kill9', replication: 'async', settings: undefined, maxTrials: 3 },
      { name: 'replan-exhausted', replication: undefined, settings: { maxReplans: 0 }, maxTrials: undefined },
    ]);
  });

  it("turns a kill9 trial into the bench's row", () => {
    expect(scenarioNamed('kill9')!.toRow(trial, 2)).toEqual({
      scenario: 'kill9',
      trial: 2,
      ok: true,
      outcome: 'failover',
      rtoMs: 4200,
      rtoDirectMs: 3900,
      writesLost: 0,
      falseFailover: false,
      splitBrainWrites: 0,
      detail: {
        detectMs: 3100,
        writerPropagationMs: 0,
        ackedWrites: 100,
        bytesAtRisk: '0',
        newPrimary: 'pg2',
        rejoin: undefined,
        lostTransactions: 0,
        unacknowledgedLocalCommits: 0,
      },
    });
    expect(scenarioNamed('kill9')!.toRow({ ...trial, lostAcknowledged: [7] }, 1).ok).toBe(false);
    expect(scenarioNamed('no-such-scenario')).toBeUndefined();
  });
});

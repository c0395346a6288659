import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { type StatusSnapshot, voteVerdict } from '../../cli/status';
import { lease, NOW } from '../core/builders';

/** A status snapshot of the lab with one stale vote and one from the future: what `status` renders in the tests. */
export const snapshot: StatusSnapshot = {
  cluster: 'lab',
  source: 'lab',
  at: NOW,
  lease: lease({ epoch: 3, primary: 'pg1', reason: 'switchover to pg1 committed', updatedAt: NOW - 12_000 }),
  replicationMode: 'sync',
  nodes: [
    {
      name: 'pg1',
      az: 'us-east-1a',
      role: 'primary',
      seenBy: 'cli',
      timeline: 2,
      lsn: '0/5000100',
      receiveLsn: null,
      lagBytes: null,
      lagSeconds: null,
      syncState: null,
      streaming: null,
      upstream: null,
      securityGroup: 'open',
      fenceEpoch: null,
      registryStatus: 'healthy',
      noFailover: false,
    },
    {
      name: 'pg2',
      az: 'us-east-1b',
      role: 'replica',
      seenBy: 'probe us-east-1b',
      timeline: 2,
      lsn: '0/5000000',
      receiveLsn: '0/5000100',
      lagBytes: 256,
      lagSeconds: 0.0021,
      syncState: 'quorum',
      streaming: true,
      upstream: '127.0.0.1:26451',
      securityGroup: 'open',
      fenceEpoch: null,
      registryStatus: 'healthy',
      noFailover: false,
    },
    {
      name: 'pg3',
      az: 'us-east-1c',
      role: 'down',
      seenBy: 'none',
      timeline: null,
      lsn: null,
      receiveLsn: null,
      lagBytes: null,
      lagSeconds: null,
      syncState: null,
      streaming: null,
      upstream: null,
      securityGroup: 'fenced',
      fenceEpoch: 3,
      registryStatus: 'needs-rejoin',
      noFailover: true,
    },
  ],
  votes: [
    { az: 'us-east-1a', primaryOk: true, consecutiveFailures: 0, observedAt: NOW - 300 },
    { az: 'us-east-1b', primaryOk: false, consecutiveFailures: 4, observedAt: NOW - 9000 },
    // A skewed clock: the quorum ignores it, so status must not show it as counting.
    { az: 'us-east-1c', primaryOk: true, consecutiveFailures: 0, observedAt: NOW + 7000 },
  ].map((v) =>
    voteVerdict(
      { ...v, seq: 5, primary: 'pg1', nodes: {} },
      { primary: 'pg1', now: NOW, settings: { voteTtlMs: 5000, failuresToDown: 3 } },
    ),
  ),
  writer: { name: 'writer.lab.pgquorum.internal', ips: ['10.42.1.10'], nodes: ['pg1'] },
  reader: null,
  warnings: ['every vote is stale: the probes are silent'],
  discovery: ['lab state .lab/state.json'],
};

/**
 * Builds dist/cli/main.js from the working tree (scripts/build-cli.mjs), so a
 * test that spawns bin/pgquorum.js runs the code under test, never a stale build.
 */
export function buildCli(): void {
  execFileSync(process.execPath, [path.join(__dirname, '..', '..', 'scripts', 'build-cli.mjs')], { stdio: 'pipe' });
}

/**
 * `npm run demo`: the failover demo on the local lab. Brings the lab up, deploys
 * the controller into the emulator (same bundles and state-machine definition
 * as `cdk deploy`), starts the probes and a write load through the writer
 * endpoint, kill -9s the primary and narrates the failover live, rejoins the old
 * primary, and ends with a summary and an HTML report. The failover is the
 * bench's kill9 trial (kill9Trial), narrated through its callbacks. Cleans up
 * after itself, also on Ctrl-C (`--keep` leaves the lab running).
 */
import { Command } from 'commander';
import { quietNode20Warning } from '../../lambdas/adapters/aws/clients';
import { deployToLab, type LabDeployment, startProbes, undeployFromLab } from '../deployer/deploy';
import { CLOUD_PROFILES, type CloudProfileName, cloudProfile } from '../world/cloud-profile';
import { Lab, type LabStatus } from '../world/index';
import { waitPortFree } from '../world/procs';
import { type LoadGenerator, lostAcknowledged } from './load';
import { type Mark, writeReport } from './report';
import { executionsSince, kill9Trial, labStore } from './scenarios';

quietNode20Warning();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Options {
  json?: boolean;
  keep?: boolean;
  async?: boolean;
  /** The cloud-behaviour profile (default ideal). */
  cloud?: string;
}

function table(st: LabStatus): string {
  const rows = st.nodes.map((n) =>
    [
      n.name,
      n.az,
      n.role,
      n.timeline ?? '-',
      n.lsn ?? '-',
      n.lagBytes ?? '-',
      n.syncState ?? '-',
      n.upstream ?? '-',
      n.gateOpen ? 'open' : 'fenced',
    ].map(String),
  );
  const head = ['node', 'az', 'role', 'tl', 'lsn', 'lag', 'sync', 'upstream', 'sg'];
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return [
    ...all.map((r) => `    ${r.map((c, i) => c.padEnd(w[i]!)).join('  ')}`),
    `    writer -> ${st.writer.join(', ')}   reader -> ${st.reader.join(', ')}`,
  ].join('\n');
}

/** The demo\'s result, as `--json` prints it: stable camelCase keys, numbers in base units (ms, bytes). */
export interface DemoSummary {
  outcome: 'committed' | 'failed';
  newPrimary: string | null;
  epoch: number;
  /** Why the run failed (null when it committed). */
  failure: string | null;
  /** kill -9 to the first write acknowledged through the writer endpoint. */
  rtoMs: number | null;
  /** kill -9 to the state machine's start. */
  detectionMs: number | null;
  writesAcknowledged: number;
  /** Acknowledged writes missing on the new primary (read back id by id). */
  writesLost: number;
  /** Commits whose synchronous wait was cancelled: committed locally, never acknowledged. */
  commitsNotAcknowledged: number;
  /** What the controller reported as possibly lost. */
  bytesAtRisk: number | null;
  transactionsOnlyOnOldPrimary: number;
  rejoin: unknown;
  candidateChoice: string | null;
}

/** The human view of the summary: prose labels with units, for the terminal and the HTML report. */
export function summaryRows(s: DemoSummary): [string, string][] {
  const sec = (v: number | null) => (v === null ? 'n/a' : `${(v / 1000).toFixed(2)} s`);
  return [
    [
      'outcome',
      s.outcome === 'committed' ? `failover to ${s.newPrimary} committed (epoch ${s.epoch})` : `FAILED: ${s.failure}`,
    ],
    ['RTO (kill -9 to first acknowledged write)', sec(s.rtoMs)],
    ['detection (kill to state machine start)', sec(s.detectionMs)],
    ['acknowledged writes', String(s.writesAcknowledged)],
    ['acknowledged writes lost (read back from the new primary)', String(s.writesLost)],
    ['commits that were not acknowledged (sync wait cancelled)', String(s.commitsNotAcknowledged)],
    ['bytes at risk (reported)', s.bytesAtRisk === null ? 'n/a' : `${s.bytesAtRisk} bytes`],
    ['transactions only on the old primary', String(s.transactionsOnlyOnOldPrimary)],
    ['rejoin', s.rejoin === null ? 'n/a' : typeof s.rejoin === 'string' ? s.rejoin : JSON.stringify(s.rejoin)],
    ['candidate choice', s.candidateChoice ?? 'n/a'],
  ];
}

async function main(opts: Options): Promise<number> {
  const out = (s: string) => {
    if (!opts.json) process.stdout.write(`${s}\n`);
  };
  const t0 = Date.now();
  const ms = (t: number) => `${((t - t0) / 1000).toFixed(1).padStart(5)} s`;
  let startedLab = false;
  let lab: Lab | undefined;
  let d: LabDeployment | undefined;
  let load: LoadGenerator | undefined;
  let cleaning = false;
  const cleanup = async () => {
    if (cleaning) return;
    cleaning = true;
    await load?.stop().catch(() => undefined);
    // --keep leaves the controller too, so `npx pgquorum --lab ...` has something to talk to.
    if (d && !opts.keep) await undeployFromLab().catch(() => undefined);
    if (lab && startedLab && !opts.keep) await Lab.down().catch(() => undefined);
  };
  process.once('SIGINT', () => {
    process.stderr.write('\ninterrupted: cleaning up\n');
    void cleanup().then(() => process.exit(130));
  });

  try {
    out('pgquorum failover demo\n');
    out('1. Bringing up the lab: three PostgreSQL 15 nodes (quorum sync), the AWS emulator, gates and endpoints');
    const cloud = (opts.cloud ?? 'ideal') as CloudProfileName;
    if (!CLOUD_PROFILES.includes(cloud)) throw new Error(`--cloud must be one of ${CLOUD_PROFILES.join(', ')}`);
    const running = await Lab.attach().catch(() => undefined);
    startedLab = !running;
    if (running && JSON.stringify(running.cloud) !== JSON.stringify(cloudProfile(cloud))) {
      // Left running afterwards with the new profile, as the running lab was.
      out(`   the running lab models the ${running.cloud.name} profile as configured: restarting it with ${cloud}`);
      await Lab.down();
      await waitPortFree(running.state.controlPort);
    }
    lab = await Lab.up({ async: opts.async, cloud, onProgress: (m) => out(`   ${m}`) });
    Object.assign(process.env, lab.awsEnv);
    await lab.reset();
    out('\n2. Deploying the controller into the emulator (the same bundles and state machine `cdk deploy` ships)');
    // With --keep the probes run as on AWS (55 s loops restarted every minute), so they outlive the demo.
    d = await deployToLab(lab, {
      ...(opts.keep ? { schedules: true } : { probeRunMs: 170000 }),
      onProgress: (m) => out(`   ${m}`),
    });
    await startProbes(d);
    const store = labStore();
    out('\n3. Probes running in three AZs, one vote per second each:');
    for (let i = 0; i < 50; i++) {
      const votes = await store.getVotes();
      const fresh = votes.filter((v) => Date.now() - v.observedAt < 3000 && v.primaryOk);
      if (fresh.length >= 3) {
        for (const v of votes.sort((a, b) => a.az.localeCompare(b.az))) out(`   ${v.az}: pg1 ok (seq ${v.seq})`);
        break;
      }
      await sleep(200);
    }
    // The kill -9 trial the bench and the tests run, narrated through its callbacks: the load through the writer
    // endpoint alone (no DNS-free client), and the demo's own bounds on the run.
    let faultAt = 0;
    let primary = 'pg1';
    const since = (t: number) => `+${((t - faultAt) / 1000).toFixed(2)} s`;
    const marks: Mark[] = [];
    const seenAz = new Set<string>();
    const seenSteps = new Set<string>();
    let started = false;
    // A write in flight at the kill may still be acknowledged by the old primary: the new primary's first write comes after the run starts.
    let runStartedAt = Number.POSITIVE_INFINITY;
    let lastEpoch = 1;
    let firstAckShown = false;
    const tick = async (writes: LoadGenerator) => {
      const now = Date.now();
      for (const v of await store.getVotes()) {
        if (!v.primaryOk && v.consecutiveFailures >= 3 && v.primary === primary && !seenAz.has(v.az)) {
          seenAz.add(v.az);
          out(
            `   ${since(v.observedAt)}  ${v.az} votes ${primary} DOWN (${v.consecutiveFailures} consecutive failures)`,
          );
          marks.push({ at: v.observedAt - faultAt, label: `${v.az} votes down`, kind: 'detect' });
        }
      }
      if (!started) {
        const ex = await executionsSince(d!, faultAt);
        if (ex.length) {
          started = true;
          runStartedAt = ex[0]!.startDate!.getTime();
          out(`   ${since(ex[0]!.startDate!.getTime())}  quorum of 2 of 3 AZs: probe started execution ${ex[0]!.name}`);
          marks.push({
            at: ex[0]!.startDate!.getTime() - faultAt,
            label: 'quorum: state machine started',
            kind: 'detect',
          });
        }
      }
      const lease = await store.getLease();
      if (lease.epoch !== lastEpoch) {
        lastEpoch = lease.epoch;
        out(`   ${since(now)}  lease epoch ${lease.epoch} taken (${lease.state}): the fencing token of this failover`);
      }
      const ev = await store.getEvent(lease.epoch);
      for (const s of ev?.timeline ?? []) {
        const key = `${s.step}|${s.detail}`;
        if (seenSteps.has(key) || s.step === 'acquire-lease') continue;
        seenSteps.add(key);
        out(`   ${since(s.at)}  ${s.step.padEnd(16)} ${s.detail}`);
        marks.push({ at: s.at - faultAt, label: s.step, kind: 'step' });
      }
      const ack = writes.firstAckAfter(runStartedAt);
      if (ack && !firstAckShown) {
        firstAckShown = true;
        out(`   ${since(ack.at)}  first acknowledged write through the writer endpoint (id ${ack.id})`);
        marks.push({ at: ack.at - faultAt, label: 'first acknowledged write', kind: 'write' });
      }
    };
    const t = await kill9Trial(lab, d, {
      warmupMs: 3000,
      directClient: false,
      startTimeoutMs: 30000,
      runTimeoutMs: 120000,
      ackWaitMs: 5000,
      beforeFault: (_, writes) => {
        load = writes;
        out(
          `\n4. Write load through writer.${'lab.pgquorum.internal'}: ${writes.report.acked.length} commits acknowledged so far`,
        );
      },
      onFault: (p, at) => {
        primary = p;
        faultAt = at;
        out(`\n5. kill -9 ${p} at ${new Date(at).toISOString()}   (times below are since the kill)\n`);
        marks.push({ at: 0, label: `kill -9 ${p}`, kind: 'fault' });
      },
      onTick: tick,
    });
    await tick(load!);
    load = undefined;
    const committed = t.executionStatus === 'SUCCEEDED';
    const lease = await store.getLease();
    const event = await store.getEvent(lease.epoch);
    // Read back from the new primary (the trial did); with none, from the primary of record, as before.
    const lost = t.newPrimary
      ? t.lostAcknowledged
      : await lostAcknowledged(lab.nodeConnection(lease.primary), 'pgq_load', t.acked ?? []);
    out(`\n6. The cluster after the failover and the rejoin of pg1:\n${table(await lab.status())}`);
    const summary: DemoSummary = {
      outcome: committed ? 'committed' : 'failed',
      newPrimary: committed ? lease.primary : null,
      epoch: lease.epoch,
      failure: committed ? null : (t.cause ?? 'no run started'),
      rtoMs: t.rtoMs,
      detectionMs: t.detectMs,
      writesAcknowledged: t.ackedWrites,
      writesLost: lost.length,
      commitsNotAcknowledged: t.load.unacknowledgedLocalCommits.length,
      bytesAtRisk: event?.bytesAtRisk === undefined ? null : Number(event.bytesAtRisk),
      transactionsOnlyOnOldPrimary: event?.lostTransactions?.length ?? 0,
      rejoin: event?.rejoin ?? null,
      candidateChoice: event?.timeline.find((s) => s.step === 'select-candidate')?.detail ?? null,
    };
    const file = writeReport({
      title: 'pgquorum lab failover (kill -9 of the primary)',
      faultAt,
      marks,
      summary: Object.fromEntries(summaryRows(summary)),
      ...(event ? { event } : {}),
    });
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({ ...summary, lostIds: lost, report: file, totalMs: Date.now() - t0 }, null, 2)}\n`,
      );
    } else {
      out('\n7. Summary');
      for (const [k, v] of summaryRows(summary)) out(`   ${k}: ${v}`);
      out(`\n   HTML report with the timeline chart: ${file}`);
      out(`   demo took ${ms(Date.now()).trim()}`);
      if (opts.keep) {
        out('\n   The lab and the controller are still running (probes restart every minute). Try:');
        out('     npx pgquorum --lab status');
        out('     npx pgquorum --lab history');
        out(`     npx pgquorum --lab switchover --to ${lab.nodeNames.find((n) => n !== lease.primary) ?? 'pg1'}`);
        out('   and `npm run lab -- down` when done.');
      }
    }
    const ok = committed && lost.length === 0;
    return ok ? 0 : 1;
  } finally {
    await cleanup();
  }
}

const program = new Command('demo')
  .description('the pgquorum failover demo on the local lab')
  .option('--json', 'print the summary as JSON')
  .option('--keep', 'leave the lab and the controller running afterwards (try `npx pgquorum --lab status`)')
  .option('--async', 'asynchronous replication (shows bytes at risk)')
  .option('--cloud <profile>', `cloud-behaviour profile: ${CLOUD_PROFILES.join(' or ')}`, 'ideal')
  .action(async (opts: Options) => {
    process.exitCode = await main(opts).catch((err: Error) => {
      process.stderr.write(`demo: ${err.message}\n`);
      return 1;
    });
  });
void program.parseAsync(process.argv);

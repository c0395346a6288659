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
import { deployToLab, type LabDeployment, restartProbes, stopProbes, undeployFromLab } from '../deployer/deploy';
import { CLOUD_PROFILES, type CloudProfileName, cloudProfile } from '../world/cloud-profile';
import { Lab } from '../world/index';
import { REPO_ROOT } from '../world/paths';
import { waitPortFree } from '../world/procs';
import { ALIASES, log, type Row, SCENARIO_NAMES, type Scenario, scenarioNamed } from './registry';
import { waitForHealthyVotes } from './scenarios';

quietNode20Warning();

function pct(xs: number[], p: number): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
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
  for (const s of SCENARIO_NAMES) {
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
  const names: string[] =
    opts.scenario === 'all'
      ? [...SCENARIO_NAMES]
      : opts.scenario
          .split(',')
          .map((x) => x.trim())
          .flatMap((x) => ALIASES[x] ?? [x]);
  const bad = names.filter((s) => !SCENARIO_NAMES.includes(s));
  if (bad.length) {
    process.stderr.write(
      `bench: unknown scenario ${bad.join(', ')} (choose from: all, ${SCENARIO_NAMES.join(', ')})\n`,
    );
    return 2;
  }
  const wanted: Scenario[] = names.map((s) => scenarioNamed(s)!);
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
      const wantMode = s.replication ?? 'sync';
      const wantSettings = JSON.stringify(s.settings ?? {});
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
        d = await deployToLab(lab, { probeRunMs: 600000, settings: s.settings ?? {} });
        deployedSettings = wantSettings;
      }
      const n = s.maxTrials !== undefined ? Math.min(trials, s.maxTrials) : trials;
      for (let i = 1; i <= n; i++) {
        await stopProbes(d);
        await lab.reset();
        await restartProbes(d);
        await waitForHealthyVotes(30000);
        log(`${s.name} trial ${i}/${n}`);
        const row = await (async () => s.toRow(await s.run(lab, d, i), i))().catch(
          (err: Error): Row => ({
            scenario: s.name,
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
          `${s.name} trial ${i}: ${row.ok ? 'ok' : 'NOT OK'} ${row.outcome}${row.rtoMs !== null ? `, ${(row.rtoMs / 1000).toFixed(2)} s` : ''}`,
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
    `all, or one or more (comma-separated) of: ${SCENARIO_NAMES.join(', ')} (host-loss: both host-loss variants)`,
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

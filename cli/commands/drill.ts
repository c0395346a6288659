import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { CliContext } from '../context';
import { EXIT, OperationFailedError, UsageError } from '../errors';
import type { Output } from '../output';

/** Scenarios the CLI can run itself (lab/scenarios.ts) when the bench (lab/bench.ts) is not there. */
export const BUILTIN_SCENARIOS = ['kill9', 'pause-long', 'pause-short', 'switchover'] as const;

const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Options of `drill`. */
export interface DrillOptions {
  readonly trials?: number;
  readonly to?: string;
}

/** Runs the bench as a child process, streaming its output; resolves with its exit code. */
function runBench(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn('npx', ['tsx', path.join('lab', 'bench.ts'), ...args], {
      cwd: REPO_ROOT,
      stdio: 'inherit',
      env: process.env,
    });
    p.on('error', reject);
    p.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/**
 * `drill <scenario>`: a bench scenario on the lab. The bench (lab/bench.ts) owns
 * the scenario list when present; otherwise the CLI deploys the controller into
 * the lab itself and runs one of lab/scenarios.ts's trials.
 */
export async function drillCommand(ctx: CliContext, scenario: string, o: DrillOptions, out: Output): Promise<unknown> {
  if (ctx.target.kind !== 'lab') throw new UsageError('drill runs on the local lab only: pass --lab');
  const trials = o.trials ?? 1;
  if (fs.existsSync(path.join(REPO_ROOT, 'lab', 'bench.ts'))) {
    const code = await runBench(['--scenario', scenario, '--trials', String(trials)]);
    // The bench printed its own line; keep its usage/failure distinction.
    if (code === EXIT.usage) throw new UsageError(`drill ${scenario}: the bench refused the arguments`);
    if (code !== 0) throw new OperationFailedError(`drill ${scenario}: the bench exited with code ${code}`);
    return { scenario, exitCode: code };
  }
  if (!(BUILTIN_SCENARIOS as readonly string[]).includes(scenario)) {
    throw new UsageError(`unknown scenario '${scenario}' (scenarios: ${BUILTIN_SCENARIOS.join(', ')})`);
  }
  // Loaded only here: the lab and the CDK synth are heavy and nothing else needs them.
  const { Lab } = await import('../../lab/index');
  const { deployToLab, startProbes } = await import('../../lab/deploy');
  const sc = await import('../../lab/scenarios');
  const lab = await Lab.attach();
  const results: unknown[] = [];
  for (let i = 0; i < trials; i++) {
    out.note(`trial ${i + 1}/${trials}: resetting the lab and deploying the controller`);
    await lab.reset();
    const d = await deployToLab(lab, { probeRunMs: 90000, onProgress: (m) => out.note(`  ${m}`) });
    await startProbes(d);
    // Let every AZ vote "up" before the fault.
    await new Promise((r) => setTimeout(r, 3000));
    out.note(`running ${scenario}`);
    const r =
      scenario === 'kill9' || scenario === 'pause-long'
        ? await sc.kill9Trial(lab, d, { fault: scenario === 'kill9' ? 'kill' : 'stop', onProgress: out.note })
        : scenario === 'pause-short'
          ? await sc.pauseShortTrial(lab, d)
          : await sc.switchoverTrial(lab, d, o.to);
    results.push(r);
    const { event: _e, ...brief } = r as Record<string, unknown>;
    out.result(r, JSON.stringify(brief, null, 2));
  }
  return results;
}

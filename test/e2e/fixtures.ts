import {
  type DeployOptions,
  deployToLab,
  type LabDeployment,
  startProbes,
  undeployFromLab,
} from '../../lab/deployer/deploy';
import { Lab } from '../../lab/world/index';
import { buildCli } from '../cli/fixtures';

/** Options of {@link useDeployedLab}: how the controller is deployed once for the file, and what follows. */
export interface DeployedLabOptions extends DeployOptions {
  /** Start the probe loops after the deployment. @default false */
  readonly startProbes?: boolean;
  /** Wait after starting the probes, so every AZ has voted "up" before the first fault. @default 3000 */
  readonly settleMs?: number;
  /** Build the operator CLI first (tests that spawn `pgquorum`). @default false */
  readonly cli?: boolean;
}

/** The attached lab and the environment a spawned CLI needs to reach the lab's AWS endpoint. */
export interface AttachedLab {
  readonly lab: Lab;
  readonly env: NodeJS.ProcessEnv;
}

/** {@link AttachedLab} with the file's deployment. */
export interface DeployedLab extends AttachedLab {
  readonly d: LabDeployment;
}

/** Undeploys and resets after the file; deleting the functions also ends the probe loops still running. */
function cleanUpAfterAll(lab: () => Lab | undefined): void {
  afterAll(async () => {
    await undeployFromLab();
    await lab()?.reset();
  }, 120000);
}

/**
 * Registers the file's `beforeAll` (attach, reset, deploy the synthesized controller, optionally start the probes)
 * and `afterAll` (undeploy, reset): one deployment per file, as the test budget wants. `ready` receives the lab and
 * the deployment before the first test. Call it at the top level of the file, before the file's own hooks.
 */
export function useDeployedLab(opts: DeployedLabOptions, ready: (x: DeployedLab) => void): void {
  const { startProbes: start, settleMs, cli, ...deploy } = opts;
  let lab: Lab | undefined;
  beforeAll(async () => {
    if (cli) buildCli();
    lab = await Lab.attach();
    await lab.reset();
    const d = await deployToLab(lab, deploy);
    if (start) {
      await startProbes(d);
      await new Promise((r) => setTimeout(r, settleMs ?? 3000));
    }
    ready({ lab, d, env: { ...process.env, ...lab.awsEnv } });
    // A bound, not a target: bundling 19 functions took 2-4 min on a loaded 2-core machine.
  }, 600000);
  cleanUpAfterAll(() => lab);
}

/** As {@link useDeployedLab} for a file that deploys per test: attach only, then the same clean-up. */
export function useAttachedLab(opts: { readonly cli?: boolean }, ready: (x: AttachedLab) => void): void {
  let lab: Lab | undefined;
  beforeAll(async () => {
    lab = await Lab.attach();
    if (opts.cli) buildCli();
    ready({ lab, env: { ...process.env, ...lab.awsEnv } });
  }, 120000);
  cleanUpAfterAll(() => lab);
}

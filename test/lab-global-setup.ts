import path from 'node:path';
import { cloudProfile } from '../lab/world/cloud-profile';
import { Lab } from '../lab/world/index';
import { LAB_DIR } from '../lab/world/paths';
import { acquireLock } from '../lab/world/preflight';
import { quietNode20Warning } from '../lambdas/adapters/aws/clients';

/** Lock file serializing lab-backed test runs on one machine (they share one lab and reset it at will). */
export const TEST_RUN_LOCK = path.join(LAB_DIR, 'test-run.lock');

/**
 * The profile lab-backed tests run under: `aws`, with every delay shortened so `npm test` stays near
 * 10 minutes (the rule). The behaviours are all there (PENDING then INSYNC, resolvers that see a change
 * late, latency on every call and task); only the figures are small. The bench runs the documented figures.
 */
export const TEST_CLOUD = cloudProfile('aws', {
  route53Propagation: { minMs: 500, maxMs: 1500 },
  ssmDelivery: { minMs: 100, maxMs: 300 },
  ssmCompletion: { minMs: 50, maxMs: 200 },
  apiLatency: { default: { minMs: 1, maxMs: 5 } },
  taskInvokeLatency: { minMs: 5, maxMs: 20 },
});

/**
 * Brings the lab up once for every lab-backed test file (or attaches to a
 * running one) and exports its AWS endpoint so SDK clients in tests reach the
 * emulator through AWS_ENDPOINT_URL. A second test run on the same machine
 * waits here until the first has finished: both would reset the same cluster.
 *
 * Jest requires the hook as the module's default export (the one exception to
 * the named-exports rule).
 */
export default async function globalSetup(): Promise<void> {
  quietNode20Warning();
  const t0 = Date.now();
  const release = await acquireLock(TEST_RUN_LOCK, {
    timeoutMs: Number(process.env.PGQ_LAB_WAIT_MS ?? 30 * 60_000),
    onWait: (pid) => process.stderr.write(`[lab] another lab test run (pid ${pid}) is using the lab: waiting\n`),
  });
  try {
    const lab = await Lab.up({
      origin: 'tests',
      cloud: TEST_CLOUD,
      onProgress: (m) => process.stderr.write(`[lab] ${m}\n`),
    });
    Object.assign(process.env, lab.awsEnv);
    process.stderr.write(`[lab] ready in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  } catch (err) {
    release();
    throw err;
  }
}

import { Lab } from '../lab/index';

/** Takes the lab down after the lab-backed tests, whatever their outcome. Set PGQ_KEEP_LAB=1 to keep it for debugging. */
export default async function globalTeardown(): Promise<void> {
  if (process.env.PGQ_KEEP_LAB === '1') return;
  const t0 = Date.now();
  await Lab.down();
  process.stderr.write(`[lab] down in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}

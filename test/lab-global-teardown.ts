import fs from 'node:fs';
import { Lab, readLabState } from '../lab/world/index';
import { TEST_RUN_LOCK } from './lab-global-setup';

/**
 * Takes the lab down after the lab-backed tests, whatever their outcome, when
 * a test run started it (state.origin 'tests'); a lab a person started with
 * `npm run lab -- up` is left running. PGQ_KEEP_LAB=1 keeps it for debugging.
 * Then lets the next waiting test run go. Default export: required by jest.
 */
export default async function globalTeardown(): Promise<void> {
  try {
    const st = readLabState();
    if (st && st.origin === 'tests' && process.env.PGQ_KEEP_LAB !== '1') {
      const t0 = Date.now();
      await Lab.down();
      process.stderr.write(`[lab] down in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    } else if (st) {
      process.stderr.write(`[lab] left running (started by ${st.origin}; \`npm run lab -- down\` stops it)\n`);
    }
  } finally {
    try {
      if (fs.readFileSync(TEST_RUN_LOCK, 'utf8').trim() === String(process.pid)) fs.rmSync(TEST_RUN_LOCK);
    } catch {
      // not held
    }
  }
}

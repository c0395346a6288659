import { Lab } from '../lab/index';
import { quietNode20Warning } from '../lab/quiet';

/**
 * Brings the lab up once for every lab-backed test file and exports its AWS
 * endpoint so SDK clients in tests reach the emulator via AWS_ENDPOINT_URL.
 */
export default async function globalSetup(): Promise<void> {
  quietNode20Warning();
  const t0 = Date.now();
  const lab = await Lab.up({ onProgress: (m) => process.stderr.write(`[lab] ${m}\n`) });
  Object.assign(process.env, lab.awsEnv);
  process.stderr.write(`[lab] up in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}

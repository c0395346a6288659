import fs from 'node:fs';
import path from 'node:path';

/** The repository (or installed package) root: this file is infra/constructs/cluster-assets.ts under it. */
const ROOT = path.resolve(__dirname, '..', '..');

/** The source file of a handler (lambdas/handlers/<entry>.ts), bundled by NodejsFunction at synth time. */
export function handlerEntry(entry: string): string {
  return path.join(ROOT, 'lambdas', 'handlers', `${entry}.ts`);
}

/** The text of a host script (infra/host-scripts/<name>.sh). */
export function hostScript(name: string): string {
  return fs.readFileSync(path.join(ROOT, 'infra', 'host-scripts', `${name}.sh`), 'utf8');
}

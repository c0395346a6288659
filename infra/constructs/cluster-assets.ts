import fs from 'node:fs';
import path from 'node:path';

/**
 * The repository root, or the installed package's: this file is infra/constructs/cluster-assets.ts in the source
 * tree and is bundled into dist/construct/index.js in the package, two levels down either way.
 */
const ROOT = path.resolve(__dirname, '..', '..');

/** Where a handler's code comes from: its TypeScript source (bundled at synth time) or a prebuilt bundle. */
export type HandlerCode = { readonly source: string } | { readonly bundleDir: string };

/** The folder of the prebuilt bundle of a handler (index.js), as scripts/build-construct.mjs writes it. */
export function prebuiltHandlerDir(entry: string, root = ROOT): string {
  return path.join(root, 'dist', 'assets', 'handlers', entry);
}

/**
 * A handler's code. The source tree wins where it exists, so a change to a handler is never shadowed by an older
 * prebuilt bundle in dist/; the installed package ships no sources, only the bundles.
 */
export function handlerCode(entry: string, root = ROOT): HandlerCode {
  const source = path.join(root, 'lambdas', 'handlers', `${entry}.ts`);
  if (fs.existsSync(source)) return { source };
  const bundleDir = prebuiltHandlerDir(entry, root);
  if (fs.existsSync(path.join(bundleDir, 'index.js'))) return { bundleDir };
  throw new Error(
    `pgquorum: no code for the ${entry} handler: neither ${source} nor ${bundleDir}/index.js (run npm run build)`,
  );
}

/** The text of a host script (infra/host-scripts/<name>.sh, shipped as is in the package). */
export function hostScript(name: string, root = ROOT): string {
  return fs.readFileSync(path.join(root, 'infra', 'host-scripts', `${name}.sh`), 'utf8');
}

// What the build scripts (build-cli.mjs, build-construct.mjs) share: the repository root, esbuild loaded or one
// line saying why not, and the options of a Node bundle of our own code with every package left external (they
// resolve from node_modules at run time: the package's dependencies).
import path from 'node:path';

/** The repository root. */
export const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

/**
 * esbuild, or the process ends with one line: exit 1, or, with `--if-available` on the command line and a
 * `skipLine` given, exit 0 (a production install has no dev dependencies and gets the build from the tarball).
 */
export async function loadEsbuild(script, skipLine) {
  try {
    return await import('esbuild');
  } catch {
    if (skipLine && process.argv.includes('--if-available')) {
      console.log(`${script}: ${skipLine}`);
      process.exit(0);
    }
    console.error(`${script}: esbuild is not installed: run \`npm ci\` (with dev dependencies) first`);
    process.exit(1);
  }
}

/** One CommonJS file for Node 20 (locally; nothing newer) holding only our own code. */
export const NODE_BUNDLE = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  packages: 'external',
  keepNames: true,
  logLevel: 'warning',
};

#!/usr/bin/env node
// Builds what the npm package ships for the construct (`pgquorum/construct`), which needs neither the sources nor
// TypeScript nor esbuild on the consumer's side:
//   dist/construct/index.js     the construct, one CommonJS file (packages stay external: dependencies)
//   dist/types/                 its declarations (main entry dist/types/infra/construct.d.ts)
//   dist/assets/handlers/<e>/   one prebuilt bundle per handler (index.js), with NodejsFunction's options
// The host scripts ship as they are (infra/host-scripts). At synth time the construct uses the handler sources where
// they exist (the repository) and these bundles otherwise (infra/constructs/cluster-assets.ts).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { loadEsbuild, NODE_BUNDLE, root } from './esbuild-common.mjs';

const esbuild = await loadEsbuild('build-construct');
const dist = (...p) => path.join(root, 'dist', ...p);
// Clean folders: the tarball ships them whole, and files left by an older build would ride along.
for (const d of ['construct', 'types', 'assets']) fs.rmSync(dist(d), { recursive: true, force: true });

await esbuild.build({
  ...NODE_BUNDLE,
  entryPoints: [path.join(root, 'infra', 'construct.ts')],
  outfile: dist('construct', 'index.js'),
});

// The handler list and the bundling options come from the construct itself, so the two cannot drift.
const require = createRequire(import.meta.url);
const info = dist('.build-info.cjs');
await esbuild.build({
  stdin: {
    contents:
      "export { TASKS, PROBE } from './infra/constructs/tasks'; export { BUNDLING } from './infra/constructs/controller-functions';",
    resolveDir: root,
    loader: 'ts',
  },
  outfile: info,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  packages: 'external',
  logLevel: 'warning',
});
const { TASKS, PROBE, BUNDLING } = require(info);
fs.rmSync(info);
const entries = [...new Set([...Object.values(TASKS).map((t) => t.entry), PROBE.entry])];
await Promise.all(
  entries.map((entry) =>
    esbuild.build({
      entryPoints: [path.join(root, 'lambdas', 'handlers', `${entry}.ts`)],
      outfile: dist('assets', 'handlers', entry, 'index.js'),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: BUNDLING.target,
      minify: BUNDLING.minify,
      keepNames: BUNDLING.keepNames,
      sourcemap: BUNDLING.sourceMap,
      external: BUNDLING.externalModules,
      logLevel: 'warning',
    }),
  ),
);

execFileSync(
  process.execPath,
  [
    require.resolve('typescript/bin/tsc'),
    '--declaration',
    '--emitDeclarationOnly',
    '--outDir',
    dist('types'),
    '--rootDir',
    root,
    '-p',
    path.join(root, 'tsconfig.construct.json'),
  ],
  { stdio: 'inherit' },
);
console.log(`build-construct: dist/construct, dist/types and ${entries.length} handler bundles in dist/assets`);

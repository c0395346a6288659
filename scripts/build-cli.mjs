#!/usr/bin/env node
// Builds the operator CLI into one CommonJS file, dist/cli/main.js, which
// bin/pgquorum.js loads. Packages stay external (they resolve from
// node_modules at run time), so the bundle holds only our own code and a
// production install (`npm ci --omit=dev`, or the packed tarball) runs it
// without tsx or TypeScript. `--if-available` (the `prepare` hook) skips,
// with one line, where esbuild is not installed: a production install gets
// the CLI prebuilt from the tarball instead.
import fs from 'node:fs';
import path from 'node:path';
import { loadEsbuild, NODE_BUNDLE, root } from './esbuild-common.mjs';

const esbuild = await loadEsbuild('build-cli', 'esbuild not installed (production install): dist/cli not rebuilt');
const outfile = path.join(root, 'dist', 'cli', 'main.js');
// A clean folder: the tarball ships dist/cli whole, and files left by an older build would ride along.
fs.rmSync(path.dirname(outfile), { recursive: true, force: true });
fs.mkdirSync(path.dirname(outfile), { recursive: true });
await esbuild.build({ ...NODE_BUNDLE, entryPoints: [path.join(root, 'cli', 'main.ts')], outfile });

#!/usr/bin/env node
// Bundle size and module-load time of the Lambda handlers under the bundling variants issue 10 asked about:
// what ships (BUNDLING in infra/constructs/controller-functions.ts) against the first round's options (no
// minification, a source map) and against leaving the AWS SDK to the Lambda runtime. Module load is the part of a
// Lambda cold start (the init phase) that bundling decides; the download of the zip is the other part, so the zip
// size is printed too (deflate, as Lambda's zip). Run: node scripts/bundle-bench.mjs [--runs 15] [--json]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) > 0 ? Number(args[args.indexOf('--runs') + 1]) : 15;
const json = args.includes('--json');
const esbuild = await import('esbuild').catch(() => {
  console.error('bundle-bench: esbuild is not installed: run `npm ci` (with dev dependencies) first');
  process.exit(1);
});

const variants = {
  shipped: { minify: true, sourcemap: false, external: ['pg-native'] },
  'first-round': { minify: false, sourcemap: true, external: ['pg-native'] },
  'runtime-sdk': { minify: true, sourcemap: false, external: ['pg-native', '@aws-sdk/*', '@smithy/*'] },
};
// The probe runs every second in three AZs, promote is on the failover path: the two whose cold start matters.
const entries = ['probe', 'promote'];
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-bundle-bench-'));

/**
 * Median and range of `n` fresh `node` processes that each load `file`: the CPU time of the `require` (user +
 * system, measured inside the child, so a busy machine stretches it far less than wall time) and its wall time.
 */
function loadMs(file, n) {
  const probe =
    `const c=process.cpuUsage(),t=process.hrtime.bigint();require(${JSON.stringify(file)});` +
    'const u=process.cpuUsage(c);console.log(JSON.stringify({cpu:(u.user+u.system)/1e3,wall:Number(process.hrtime.bigint()-t)/1e6}))';
  const cpu = [];
  const wall = [];
  for (let i = 0; i < n; i++) {
    // NODE_PATH lets the runtime-sdk variant find the SDK as the Lambda runtime would provide it.
    const r = JSON.parse(
      execFileSync(process.execPath, ['-e', probe], {
        env: { ...process.env, NODE_PATH: path.join(root, 'node_modules'), AWS_REGION: 'us-east-1' },
        encoding: 'utf8',
      }),
    );
    cpu.push(r.cpu);
    wall.push(r.wall);
  }
  const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  return { cpuMs: med(cpu), cpuMinMs: Math.min(...cpu), cpuMaxMs: Math.max(...cpu), wallMs: med(wall) };
}

const rows = [];
for (const [variant, o] of Object.entries(variants)) {
  for (const entry of entries) {
    const file = path.join(out, variant, entry, 'index.js');
    await esbuild.build({
      entryPoints: [path.join(root, 'lambdas', 'handlers', `${entry}.ts`)],
      outfile: file,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      keepNames: true,
      minify: o.minify,
      sourcemap: o.sourcemap,
      external: o.external,
      logLevel: 'error',
    });
    const files = fs.readdirSync(path.dirname(file)).map((f) => path.join(path.dirname(file), f));
    const bytes = files.reduce((s, f) => s + fs.statSync(f).size, 0);
    const zipBytes = files.reduce((s, f) => s + zlib.deflateRawSync(fs.readFileSync(f), { level: 9 }).length, 0);
    rows.push({ variant, entry, bytes, zipBytes, ...loadMs(file, runs) });
  }
}
fs.rmSync(out, { recursive: true, force: true });

if (json) console.log(JSON.stringify({ runs, node: process.version, cpus: os.cpus().length, rows }, null, 2));
else {
  console.log(
    `module load of each bundle in a fresh node ${process.version}, ${runs} runs: CPU ms median (min-max), wall ms median`,
  );
  for (const r of rows) {
    console.log(
      `${r.variant.padEnd(12)} ${r.entry.padEnd(8)} ${(r.bytes / 1e6).toFixed(2).padStart(6)} MB files, ` +
        `${(r.zipBytes / 1e6).toFixed(2).padStart(5)} MB zipped, load CPU ${r.cpuMs.toFixed(0)} ms ` +
        `(${r.cpuMinMs.toFixed(0)}-${r.cpuMaxMs.toFixed(0)}), wall ${r.wallMs.toFixed(0)} ms`,
    );
  }
}

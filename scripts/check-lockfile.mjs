#!/usr/bin/env node
// `npm ci` refuses a lock file that lacks any optional dependency a locked
// package declares, even one for another platform (@swc/core-darwin-*, …): npm
// itself can write such a lock when it is regenerated over an existing
// node_modules. `npm ci` is the README's first command, so the lint names the
// missing entries and the fix before a newcomer meets npm's EUSAGE.
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
const pkgs = lock.packages ?? {};

/** Where npm would resolve `name` from the package at `at`: its own node_modules, then each parent's. */
function resolves(at, name) {
  let dir = at;
  for (;;) {
    if (pkgs[`${dir ? `${dir}/` : ''}node_modules/${name}`]) return true;
    if (!dir) return false;
    const i = dir.lastIndexOf('/node_modules/');
    dir = i < 0 ? '' : dir.slice(0, i);
  }
}

const missing = [];
for (const [at, meta] of Object.entries(pkgs)) {
  for (const name of Object.keys(meta.optionalDependencies ?? {})) {
    if (!resolves(at, name)) missing.push(`${name} (optional dependency of ${at || 'the root package'})`);
  }
}
if (missing.length > 0) {
  console.error(
    `package-lock.json lacks ${missing.length} optional dependencies, so \`npm ci\` will refuse it:\n  ${missing.join('\n  ')}\n` +
      'Fix: `npm install --package-lock-only` (adds the entries, keeps every locked version), then commit the lock.',
  );
  process.exit(1);
}

#!/usr/bin/env node
// Layer check. lambdas/core must stay pure: decisions only, no AWS SDK, no `pg`, no I/O, and
// nothing from outside lambdas/core. This keeps every rule unit-testable from a
// table and keeps side effects in adapters where the epoch guard lives.
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const coreDir = path.join(root, 'lambdas', 'core');
const forbidden = [
  [/^@aws-sdk\//, 'the AWS SDK'],
  [/^pg($|\/)/, 'the PostgreSQL driver'],
  [
    /^(node:)?(fs|net|child_process|http|https|http2|dns|dgram|tls|cluster|worker_threads|os|process|readline)(\/|$)/,
    'Node I/O',
  ],
  [/^node:/, 'a Node built-in'],
];
const importRe =
  /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g;

function files(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p) : /\.(ts|js|mjs|cjs)$/.test(e.name) ? [p] : [];
  });
}

const problems = [];
for (const file of files(coreDir)) {
  const text = fs.readFileSync(file, 'utf8');
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2] ?? m[3];
    const rel = path.relative(root, file);
    for (const [re, what] of forbidden) {
      if (re.test(spec)) problems.push(`${rel}: imports '${spec}' (${what}); lambdas/core must stay pure`);
    }
    if (spec.startsWith('.')) {
      const target = path.resolve(path.dirname(file), spec);
      if (!target.startsWith(coreDir + path.sep) && target !== coreDir) {
        problems.push(`${rel}: imports '${spec}' from outside lambdas/core`);
      }
    }
  }
}
// Handlers reach adapters only through deps.ts (the one place that builds them), so every side effect goes
// through a port a test can substitute and the epoch/holder guard in task() sees it.
const handlersDir = path.join(root, 'lambdas', 'handlers');
const adaptersDir = path.join(root, 'lambdas', 'adapters');
const handlerFiles = files(handlersDir);
for (const file of handlerFiles) {
  if (path.basename(file) === 'deps.ts') continue;
  const text = fs.readFileSync(file, 'utf8');
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (!spec.startsWith('.')) {
      if (/^@aws-sdk\//.test(spec) || /^pg($|\/)/.test(spec)) {
        problems.push(`${path.relative(root, file)}: imports '${spec}': handlers act through ports (deps.ts)`);
      }
      continue;
    }
    const target = path.resolve(path.dirname(file), spec);
    if (target === adaptersDir || target.startsWith(adaptersDir + path.sep)) {
      problems.push(`${path.relative(root, file)}: imports '${spec}': handlers reach adapters only through deps.ts`);
    }
  }
}
// The product never depends on its test world: the operator CLI and the CDK app work from an npm install
// without lab/, and the functions carry nothing of the CLI, the lab or the CDK app in their bundles.
const layerRules = [
  ['cli', ['lab'], 'the operator CLI ships without the lab (it reads the lab through its outputs file)'],
  ['infra', ['lab'], 'the CDK app ships without the lab'],
  ['lambdas', ['cli', 'lab', 'infra'], 'the functions bundle only lambdas/'],
];
let layered = 0;
for (const [from, banned, why] of layerRules) {
  for (const file of files(path.join(root, from))) {
    layered++;
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(importRe)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (!spec.startsWith('.')) continue;
      const target = path.relative(root, path.resolve(path.dirname(file), spec));
      const top = target.split(path.sep)[0];
      if (banned.includes(top)) problems.push(`${path.relative(root, file)}: imports '${spec}' from ${top}/: ${why}`);
    }
  }
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(
  `core import check: ${files(coreDir).length} file(s) pure; layer check: ${handlerFiles.length - 1} handler(s) reach adapters only through deps.ts, ${layered} file(s) of cli/, infra/ and lambdas/ import no lab/ (nor cli/ or infra/ from lambdas/)`,
);

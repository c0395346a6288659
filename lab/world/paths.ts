import fs from 'node:fs';
import path from 'node:path';

/**
 * The nearest folder at or above `from` holding package.json (else two folders up: lab/world/ is two below the
 * root). The lab's files run from lab/world/ under tsx; a bundle of them would run from elsewhere, where a fixed
 * `../..` would point at the wrong .lab.
 */
function packageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(from, '..', '..');
  }
}

/** Repository root (the folder of package.json). */
export const REPO_ROOT = packageRoot(__dirname);
/** Everything the lab writes lives here (git-ignored). */
export const LAB_DIR = process.env.PGQ_LAB_DIR ?? path.join(REPO_ROOT, '.lab');
/** Describes the running lab: PIDs, ports, seeded AWS ids. Written by the supervisor once ready. */
export const STATE_FILE = path.join(LAB_DIR, 'state.json');
/** What the deployed controller is (state machine, functions, settings): written by lab/deployer/deploy.ts. */
export const DEPLOYMENT_FILE = path.join(LAB_DIR, 'deployment.json');
/**
 * The lab as a deployed stack's outputs, in the shape `cdk deploy --outputs-file` writes: what the operator CLI's
 * `--lab` reads (it never imports the lab). Written by the supervisor once ready, and again by deploy/undeploy.
 */
export const OUTPUTS_FILE = path.join(LAB_DIR, 'outputs.json');
/** The supervisor's own log: progress lines, child exits, gate decisions. */
export const SUPERVISOR_LOG = path.join(LAB_DIR, 'supervisor.log');
export const PG_BIN = process.env.PGQ_PG_BIN ?? '/usr/lib/postgresql/15/bin';
export const VENV_DIR = path.join(REPO_ROOT, '.venv');

/** Data directory of one node. */
export function nodeDataDir(node: string): string {
  return path.join(LAB_DIR, 'nodes', node, 'data');
}

/** Unix-socket directory of one node (kept short: socket paths are limited to ~100 bytes). */
export function nodeSocketDir(node: string): string {
  return path.join(LAB_DIR, 'nodes', node, 'sock');
}

/** Server log of one node. */
export function nodeLogFile(node: string): string {
  return path.join(LAB_DIR, 'nodes', node, 'postgres.log');
}

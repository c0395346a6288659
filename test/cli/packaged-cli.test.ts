import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The CLI as a platform team installs it: `npm pack` (the prepare hook builds
 * dist/cli), then the tarball installed with `--omit=dev` into an empty app, so
 * no tsx, TypeScript or esbuild is there. Everything runtime must come from
 * `dependencies`. Uses the npm cache that `npm ci` filled (--prefer-offline).
 */
const ROOT = path.resolve(__dirname, '..', '..');
let app: string;

beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-pack-'));
  const npm = (args: string[], cwd: string) =>
    execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8' });
  const tgz = npm(['pack', '--pack-destination', dir], ROOT).trim().split('\n').pop()!;
  app = path.join(dir, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  npm(['install', '--omit=dev', '--prefer-offline', path.join(dir, tgz)], app);
}, 240_000);

afterAll(() => fs.rmSync(path.dirname(app), { recursive: true, force: true }));

const pgquorum = (...args: string[]) =>
  spawnSync(path.join(app, 'node_modules', '.bin', 'pgquorum'), args, {
    cwd: app,
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: process.env.PATH, HOME: app, PGQ_LAB_DIR: path.join(app, 'no-lab') },
  });

describe('the packed CLI, installed without dev dependencies', () => {
  test('ships the compiled CLI and nothing of the lab or the sources', () => {
    const pkg = path.join(app, 'node_modules', 'pgquorum');
    expect(fs.existsSync(path.join(pkg, 'dist', 'cli', 'main.js'))).toBe(true);
    expect(fs.existsSync(path.join(pkg, 'cli'))).toBe(false);
    expect(fs.existsSync(path.join(pkg, 'lab'))).toBe(false);
    expect(fs.existsSync(path.join(app, 'node_modules', 'tsx'))).toBe(false);
  });

  test('--help answers with every command', () => {
    const r = pgquorum('--help');
    expect(r.status).toBe(0);
    for (const c of ['status', 'history', 'switchover', 'failover', 'pause', 'resume', 'rejoin']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    }
  });

  test('a command loads the AWS context and stops at one line when there is nothing to reach', () => {
    const r = pgquorum('--lab', 'status');
    expect(r.status).toBe(4);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^pgquorum: no lab is running/)]);
  });
});

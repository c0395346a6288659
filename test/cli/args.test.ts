import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { confirm } from '../../cli/confirm';
import { EXIT, UsageError } from '../../cli/errors';
import { main } from '../../cli/main';
import { buildCli } from './fixtures';

const ROOT = path.resolve(__dirname, '..', '..');

/** Runs the CLI in-process; only for inputs refused before any AWS or lab access. */
async function cli(...args: string[]) {
  let out = '';
  let err = '';
  const code = await main(['node', 'pgquorum', ...args], {
    stdout: (s) => {
      out += s;
    },
    stderr: (s) => {
      err += s;
    },
  });
  return { code, out, err };
}

describe('argument validation (no AWS, nothing read or changed)', () => {
  it.each([
    [['failover', '--to', 'pg2'], /^pgquorum: failover --to NODE needs --force/],
    [['failover', '--force'], /^pgquorum: failover needs --to NODE/],
    // An unset shell variable (`--to "$NODE"`) is no node, never "let the controller pick".
    [['switchover', '--to', ''], /^pgquorum: unknown node '': --to needs a node name/],
    [['failover', '--to', '', '--force'], /^pgquorum: unknown node '': --to needs a node name/],
    // Drills belong to the lab (`npm run lab -- drill`): the operator CLI never loads the lab.
    [['drill', 'kill9'], /^error: unknown command 'drill'/],
    [['history', '--limit', '0'], /^error: option '--limit <n>' argument '0' is invalid\. must be a positive integer/],
    [['status', '--interval', 'soon'], /must be a positive number/],
    [['statsu'], /^error: unknown command 'statsu'/],
    [['status', '--bogus'], /^error: unknown option '--bogus'/],
    [
      ['--lab', '--stack', 'PgQuorum-orders', 'status'],
      /^pgquorum: --stack names a stack on AWS and --lab the local lab/,
    ],
  ])('%j exits 2 with one clear line', async (args, msg) => {
    const r = await cli(...args);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(msg);
    expect(r.out).toBe('');
  });

  it('--help lists every command and exits 0', async () => {
    const r = await cli('--help');
    expect(r.code).toBe(EXIT.ok);
    for (const c of ['status', 'history', 'switchover', 'failover', 'pause', 'resume', 'rejoin']) {
      expect(r.out).toMatch(new RegExp(`^  ${c} `, 'm'));
    }
  });
});

describe('the launcher (a real process, real exit codes)', () => {
  // The launcher runs the compiled CLI: build it from this checkout's source first (esbuild, about a second).
  beforeAll(() => buildCli(), 60_000);
  // No credentials anywhere the SDK looks, no lab endpoint: the command must stop at one line.
  const bare = {
    PATH: process.env.PATH,
    HOME: '/nonexistent',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  const run = (args: string[], env: Record<string, string | undefined>) =>
    spawnSync(process.execPath, [path.join(ROOT, 'bin', 'pgquorum.js'), ...args], {
      cwd: ROOT,
      env: env as NodeJS.ProcessEnv,
      encoding: 'utf8',
      timeout: 30000,
    });

  it.each([
    ['--cluster', 'prod'],
    ['--stack', 'PgQuorum-prod'],
  ])(
    'no credentials (%s): one line, exit 4',
    (flag, value) => {
      const r = run(['status', flag, value, '--region', 'eu-west-1'], bare);
      expect(r.status).toBe(EXIT.environment);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^pgquorum: no AWS credentials \(.*\): use --profile, AWS_PROFILE or AWS_ACCESS_KEY_ID/);
      expect(r.stdout).toBe('');
    },
    30000,
  );

  it('no region: one line, exit 2', () => {
    const r = run(['history', '--cluster', 'prod'], bare);
    expect(r.status).toBe(EXIT.usage);
    expect(r.stderr.trim()).toBe(
      'pgquorum: no AWS region: pass --region (or set AWS_REGION), or --lab for the local lab',
    );
  }, 30000);

  it('--lab with no lab running: one line, exit 4', () => {
    const r = run(['status', '--lab'], { ...bare, PGQ_LAB_DIR: '/nonexistent/lab' });
    expect(r.status).toBe(EXIT.environment);
    expect(r.stderr.trim()).toBe(
      'pgquorum: no lab is running (no outputs.json at /nonexistent/lab/outputs.json): start one with `npm run lab -- up`',
    );
  }, 30000);

  it('--outputs naming a missing file: one line, exit 4, and how to write one', () => {
    const r = run(['status', '--outputs', '/nonexistent/outputs.json', '--region', 'us-east-1'], bare);
    expect(r.status).toBe(EXIT.environment);
    expect(r.stderr.trim()).toBe(
      'pgquorum: outputs file /nonexistent/outputs.json not found (write it with `cdk deploy --outputs-file /nonexistent/outputs.json`)',
    );
  }, 30000);

  it('--lab and --outputs together: usage, exit 2', () => {
    const r = run(['status', '--lab', '--outputs', 'x.json'], bare);
    expect(r.status).toBe(EXIT.usage);
    expect(r.stderr.trim()).toMatch(/pass --lab or --outputs FILE, not both/);
  }, 30000);
});

describe('confirm', () => {
  const tty = (answer: string) => {
    const input = Object.assign(new PassThrough(), { isTTY: true });
    setImmediate(() => input.write(`${answer}\n`));
    return input;
  };
  it('--yes never asks', async () => {
    await expect(confirm('go?', { yes: true, input: new PassThrough() })).resolves.toBeUndefined();
  });
  it('refuses without a terminal to ask on', async () => {
    await expect(confirm('go?', { input: new PassThrough() })).rejects.toThrow(
      new UsageError('not confirmed: no terminal to ask "go?" on; pass --yes to proceed'),
    );
  });
  it.each([
    ['y', true],
    ['yes', true],
    ['', false],
    ['n', false],
  ])('answer %p proceeds: %p', async (answer, proceeds) => {
    const p = confirm('go?', { input: tty(answer), output: new PassThrough() });
    if (proceeds) await expect(p).resolves.toBeUndefined();
    else await expect(p).rejects.toThrow('not confirmed: nothing changed');
  });
});

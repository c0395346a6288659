import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { LabError } from './errors';
import { LAB_DIR, REPO_ROOT, VENV_DIR } from './paths';
import { sleep } from './postgres-node';

/** The pinned emulator version (one line in lab/world/emulator-version, shared with scripts/install-emulator.sh). */
export const EMULATOR_VERSION = fs.readFileSync(path.join(__dirname, 'emulator-version'), 'utf8').trim();

/** Path of the emulator's entry point inside the project virtualenv. */
export const EMULATOR_BIN = path.join(VENV_DIR, 'bin', 'ministack');

const PATCH_SCRIPT = path.join(REPO_ROOT, 'scripts', 'patch-emulator.py');
const PATCH_MARKER_FILE = path.join(VENV_DIR, 'pgq-emulator-patches');

/**
 * The line scripts/patch-emulator.py writes to its marker once the lab's patches are applied to the pinned
 * emulator. Read from the script itself (its PATCH_SET), so the two can never disagree on "installed".
 */
export const EMULATOR_PATCH_MARKER = `ministack==${EMULATOR_VERSION} ${
  /^PATCH_SET = "([^"]+)"$/m.exec(fs.readFileSync(PATCH_SCRIPT, 'utf8'))?.[1] ?? 'unknown'
}\n`;

/** True when the lab's patches are applied to the installed emulator (same check as scripts/install-emulator.sh). */
export function emulatorPatched(): boolean {
  try {
    return fs.readFileSync(PATCH_MARKER_FILE, 'utf8') === EMULATOR_PATCH_MARKER;
  } catch {
    return false;
  }
}

/**
 * True when the pinned version (not just any ministack) is installed in the project virtualenv, with the lab's
 * patches applied.
 */
export function emulatorInstalled(): boolean {
  return emulatorPackageInstalled() && emulatorPatched();
}

function emulatorPackageInstalled(): boolean {
  if (!fs.existsSync(EMULATOR_BIN)) return false;
  const lib = path.join(VENV_DIR, 'lib');
  // Checking the dist-info directory avoids spawning pip (about 1 s) on every `lab up`.
  return (
    fs.existsSync(lib) &&
    fs
      .readdirSync(lib)
      .some((py) => fs.existsSync(path.join(lib, py, 'site-packages', `ministack-${EMULATOR_VERSION}.dist-info`)))
  );
}

/**
 * Installs the pinned ministack into the project-local virtualenv when missing
 * (idempotent): `python3 -m venv` + pip, the registry's ordinary client; then
 * applies the lab's patches (scripts/patch-emulator.py) when their marker is missing.
 * Throws a LabError naming the failing step when python3 or pip fails.
 */
export function ensureEmulatorInstalled(log: (msg: string) => void = () => undefined): void {
  if (emulatorInstalled()) return;
  log(`installing ministack ${EMULATOR_VERSION} into ${VENV_DIR}`);
  const step = (file: string, args: string[]) => {
    try {
      execFileSync(file, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    } catch (err) {
      const e = err as { stderr?: string; message: string; code?: string };
      const why = e.code === 'ENOENT' ? `${file} not found (install Python 3.10+ with venv)` : e.stderr || e.message;
      throw new LabError(
        `installing the emulator failed at \`${file} ${args.join(' ')}\`: ${why.trim().split('\n').pop()}`,
      );
    }
  };
  if (!emulatorPackageInstalled()) {
    if (!fs.existsSync(path.join(VENV_DIR, 'bin', 'pip'))) step('python3', ['-m', 'venv', VENV_DIR]);
    step(path.join(VENV_DIR, 'bin', 'pip'), [
      'install',
      '--quiet',
      '--disable-pip-version-check',
      `ministack==${EMULATOR_VERSION}`,
    ]);
  }
  // The Node runtime's error name must reach Step Functions, or no Retry on Pgq.Retriable ever matches.
  if (!emulatorPatched()) step('python3', [PATCH_SCRIPT, VENV_DIR, EMULATOR_VERSION]);
  if (!emulatorInstalled()) throw new LabError(`ministack ${EMULATOR_VERSION} did not install into ${VENV_DIR}`);
}

/** True when the emulator answers its health endpoint. */
export async function emulatorHealthy(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/_ministack/health`, { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * The AWS emulator (ministack) as a child of the supervisor. It can be stopped
 * and started again (the bench's emulator-down scenario); state is in memory, so
 * a restart loses it and the supervisor re-seeds.
 */
export class Emulator {
  private child: ChildProcess | undefined;

  constructor(
    readonly port: number,
    private readonly log: (msg: string) => void,
  ) {}

  get pid(): number | undefined {
    return this.child && this.child.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /** Starts ministack on 127.0.0.1:port and waits for its health endpoint. */
  async start(timeoutMs = 30000): Promise<void> {
    if (this.pid) return;
    ensureEmulatorInstalled(this.log);
    const out = fs.openSync(path.join(LAB_DIR, 'emulator.log'), 'a');
    const child = spawn(EMULATOR_BIN, [], {
      env: {
        ...process.env,
        GATEWAY_PORT: String(this.port),
        // ministack binds 0.0.0.0 by default; the lab is loopback-only.
        BIND_HOST: '127.0.0.1',
        MINISTACK_HOST: '127.0.0.1',
        // Off by default here: they would bind 2222 and 8883 on every interface and collide
        // with a second emulator (a developer's, or another checkout's lab).
        SFTP_ENABLED: '0',
        IOT_MTLS_ENABLED: '0',
        // In-memory only: a restarted emulator must not resurrect an older lab's resources.
        PERSIST_STATE: '0',
        MINISTACK_REGION: 'us-east-1',
        LOG_LEVEL: 'WARNING',
        // Lambdas the emulator runs call back into it through this.
        AWS_ENDPOINT_URL: `http://127.0.0.1:${this.port}`,
      },
      cwd: LAB_DIR,
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    this.child = child;
    child.once('exit', (code, sig) => this.log(`emulator ${child.pid} exited (${sig ?? code})`));
    const deadline = Date.now() + timeoutMs;
    while (!(await emulatorHealthy(this.port))) {
      if (child.exitCode !== null)
        throw new Error(`the emulator exited at start: see ${path.join(LAB_DIR, 'emulator.log')}`);
      if (Date.now() > deadline) throw new Error(`the emulator did not become healthy on port ${this.port}`);
      await sleep(150);
    }
  }

  /**
   * Freezes (SIGSTOP) or thaws (SIGCONT) the emulator: the AWS endpoint stops
   * answering (calls time out) but keeps its state, unlike stop().
   */
  pause(paused: boolean): boolean {
    const pid = this.pid;
    if (!pid) return false;
    process.kill(pid, paused ? 'SIGSTOP' : 'SIGCONT');
    this.paused = paused;
    return true;
  }

  /** True while frozen by pause(true). */
  paused = false;

  /** Stops the emulator and waits until it is gone. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.pid) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    if (this.paused) child.kill('SIGCONT');
    this.paused = false;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(t);
  }
}

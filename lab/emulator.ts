import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { LAB_DIR, REPO_ROOT, VENV_DIR } from './paths';
import { sleep } from './postgres-node';

/** The pinned emulator version (one line in lab/emulator-version, shared with .ci/run). */
export const EMULATOR_VERSION = fs.readFileSync(path.join(__dirname, 'emulator-version'), 'utf8').trim();

/** Installs the pinned ministack into the project-local virtualenv when missing (idempotent). */
export function ensureEmulatorInstalled(): void {
  const bin = path.join(VENV_DIR, 'bin', 'ministack');
  if (fs.existsSync(bin)) return;
  execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'install-emulator.sh')], { stdio: 'inherit' });
  if (!fs.existsSync(bin)) throw new Error(`ministack ${EMULATOR_VERSION} did not install into ${VENV_DIR}`);
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
    ensureEmulatorInstalled();
    const out = fs.openSync(path.join(LAB_DIR, 'emulator.log'), 'a');
    const child = spawn(path.join(VENV_DIR, 'bin', 'ministack'), [], {
      env: {
        ...process.env,
        GATEWAY_PORT: String(this.port),
        MINISTACK_HOST: '127.0.0.1',
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

  /** Stops the emulator and waits until it is gone. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.pid) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(t);
  }
}

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';

/** uid/gid of the `postgres` OS user: PostgreSQL refuses to run as root. */
export interface OsUser {
  uid: number;
  gid: number;
  home: string;
}

let cached: OsUser | undefined;

/** Looks up the `postgres` user once; a clear error when it does not exist. */
export function postgresUser(): OsUser {
  if (cached) return cached;
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error("the OS user 'postgres' does not exist: install postgresql-15 (see .ci/run)");
  const [, , uid, gid, , home] = line.split(':');
  cached = { uid: Number(uid), gid: Number(gid), home: home ?? '/var/lib/postgresql' };
  return cached;
}

/** Options that make a child process run as `postgres` when we are root (and as ourselves otherwise). */
export function asPostgres(): { uid?: number; gid?: number; env: NodeJS.ProcessEnv } {
  const user = postgresUser();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: user.home,
    USER: 'postgres',
    LOGNAME: 'postgres',
    LC_ALL: 'C.UTF-8',
  };
  delete env.PGOPTIONS;
  if (process.getuid?.() === 0) return { uid: user.uid, gid: user.gid, env };
  return { env };
}

/** Makes a directory (and parents) owned by `postgres`, mode 0700 as PostgreSQL demands for data dirs. */
export function mkdirForPostgres(dir: string, mode = 0o700): void {
  fs.mkdirSync(dir, { recursive: true, mode });
  const user = postgresUser();
  if (process.getuid?.() === 0) fs.chownSync(dir, user.uid, user.gid);
  fs.chmodSync(dir, mode);
}

/** Runs a program as `postgres` to completion; throws with its stderr on failure. */
export function runAsPostgres(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
  const base = asPostgres();
  try {
    return execFileSync(file, args, {
      ...base,
      env: { ...base.env, ...opts.env },
      input: opts.input,
      stdio: ['pipe', 'pipe', 'pipe'],
      encoding: 'utf8',
      cwd: '/',
    });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${file.split('/').pop()} ${args.join(' ')} failed: ${(e.stderr || e.stdout || e.message).trim()}`);
  }
}

/** Same as runAsPostgres but asynchronous, so the supervisor's event loop (gates) keeps running. */
export function runAsPostgresAsync(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const base = asPostgres();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      ...base,
      env: { ...base.env, ...env },
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let errText = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      errText += d;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${file.split('/').pop()} ${args.join(' ')} failed (${code}): ${(errText || out).trim()}`));
    });
  });
}

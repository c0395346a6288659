import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { LabError } from './errors';
import { postgresUser } from './os-user';
import { PG_BIN } from './paths';
import { isAlive } from './procs';
import { GATE_PATHS, type LabPorts } from './topology';

/** PostgreSQL programs the lab and the host scripts run. */
export const PG_PROGRAMS = [
  'postgres',
  'initdb',
  'pg_basebackup',
  'pg_ctl',
  'pg_rewind',
  'pg_controldata',
  'pg_waldump',
];

/** Every loopback port the lab will listen on, with what it is for. */
export function labPortList(ports: LabPorts, controlPort: number): [number, string][] {
  const wanted: [number, string][] = [
    [ports.emulator, 'emulator'],
    [ports.awsProxy, 'AWS endpoint (proxy in front of the emulator)'],
    [ports.writer, 'writer endpoint'],
    [ports.reader, 'reader endpoint'],
    [ports.ssm, 'SSM service'],
    [controlPort, 'lab control API'],
  ];
  for (const n of ports.nodes) {
    wanted.push([n.pgPort, `${n.name} postgres`]);
    for (const p of GATE_PATHS) wanted.push([n.gatePorts[p], `${n.name} gate ${p}`]);
  }
  return wanted;
}

/** Who listens on a port, when `ss` can tell (best effort, for the error message only). */
function portOwner(port: number): string {
  try {
    const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const m = /users:\(\("([^"]+)",pid=(\d+)/.exec(out);
    return m ? ` by ${m[1]} (pid ${m[2]})` : '';
  } catch {
    return '';
  }
}

/** Rejects with a LabError naming the port, its purpose and its holder when it cannot be bound on 127.0.0.1. */
export function assertPortFree(port: number, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new LabError(
          `port ${port} (${what}) is ${err.code === 'EADDRINUSE' ? `already in use${portOwner(port)}` : `unusable: ${err.message}`}; ` +
            'free it, or move the lab with PGQ_LAB_PORT_BASE / PGQ_EMULATOR_PORT',
        ),
      ),
    );
    s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
  });
}

/**
 * Everything `lab up` needs, checked before anything starts, so a missing
 * binary or a taken port leaves nothing half-started.
 */
export async function preflight(ports: LabPorts, controlPort: number): Promise<void> {
  for (const bin of PG_PROGRAMS) {
    if (!fs.existsSync(`${PG_BIN}/${bin}`)) {
      throw new LabError(
        `missing PostgreSQL binary ${PG_BIN}/${bin}: on Debian 12 run \`mkdir -p /etc/postgresql-common; echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf; apt-get update && apt-get install -y postgresql-15\` as root (what .ci/run does), or point PGQ_PG_BIN at PostgreSQL 15's bin folder`,
      );
    }
  }
  postgresUser();
  for (const [p, what] of labPortList(ports, controlPort)) await assertPortFree(p, what);
}

/**
 * A small cross-process lock file (O_EXCL create) holding the owner's PID.
 * A lock whose owner is dead is taken over. Resolves with a release function.
 */
export async function acquireLock(
  file: string,
  opts: { timeoutMs: number; onWait?: (ownerPid: number) => void },
): Promise<() => void> {
  const deadline = Date.now() + opts.timeoutMs;
  let told = false;
  // On a fresh clone the lab folder does not exist yet.
  fs.mkdirSync(path.dirname(file), { recursive: true });
  for (;;) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return () => {
        try {
          if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.rmSync(file, { force: true });
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = 0;
    try {
      owner = Number(fs.readFileSync(file, 'utf8').trim());
    } catch {
      continue;
    }
    if (!owner) {
      // Created but not yet written by its owner: give it a moment before calling it abandoned.
      const age = Date.now() - (fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0);
      if (age > 2000) fs.rmSync(file, { force: true });
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    if (owner === process.pid || !isAlive(owner)) {
      // Ours from an earlier call, or the holder died without releasing: take it over.
      fs.rmSync(file, { force: true });
      continue;
    }
    if (!told) opts.onWait?.(owner);
    told = true;
    if (Date.now() > deadline) throw new LabError(`timed out waiting for ${file} held by pid ${owner}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

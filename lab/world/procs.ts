import fs from 'node:fs';

/** State letter and parent PID of a process from /proc, or undefined when it is gone. */
function procStat(pid: number): { state: string; ppid: number; pgrp: number } | undefined {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
    const rest = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] ?? '?', ppid: Number(rest[1]), pgrp: Number(rest[2]) };
  } catch {
    return undefined;
  }
}

/**
 * True while the process exists and is not a zombie. `kill(pid, 0)` alone is not
 * enough: an unreaped zombie still answers it, and its postmaster.pid blocks
 * pg_ctl and pg_rewind (docs/postgres-notes.md).
 */
export function isAlive(pid: number | undefined): pid is number {
  if (!pid) return false;
  const st = procStat(pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X';
}

/** Direct children of a process (PostgreSQL forks every backend and auxiliary process from the postmaster). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const st = procStat(Number(entry));
    if (st?.ppid === pid) out.push(Number(entry));
  }
  return out;
}

/** Live members of a process group (the lab supervisor leads its own group). */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const st = procStat(pid);
    if (st && st.pgrp === pgid && st.state !== 'Z') out.push(pid);
  }
  return out;
}

/** Resident set size of a process in KiB (0 when gone). */
export function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Proportional set size in KiB: shared pages (PostgreSQL's shared buffers are
 * mapped by every backend) are split between their users, so a sum over
 * processes does not count them many times as an RSS sum does.
 */
export function pssKiB(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : rssKiB(pid);
  } catch {
    return 0;
  }
}

/** Sends a signal, ignoring a process that is already gone. */
export function signalQuietly(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Waits until every PID is gone (or a zombie); false on timeout. */
export async function waitGone(pids: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isAlive)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

/**
 * Resolves once nothing listens on `port` (or after `timeoutMs`): a stopped supervisor's control port can stay
 * bound for a moment after it is gone (PID 1 here reaps slowly), and the next `lab up` would find it taken.
 * @default timeoutMs 20000
 */
export async function waitPortFree(port: number, timeoutMs = 20000): Promise<void> {
  const net = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

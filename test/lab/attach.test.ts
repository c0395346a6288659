import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

// The lab's paths are fixed when lab/paths loads: point them at a scratch directory first.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-attach-'));
process.env.PGQ_LAB_DIR = dir;
process.env.PGQ_LAB_ATTACH_MS = '6000';
// require, not import: imports are hoisted above the two assignments.
const { Lab, LabError } = require('../../lab/world/index') as typeof import('../../lab/world/index');

/** A stand-in supervisor control API whose /health answers after `delays[i]` ms on the i-th call. */
async function fakeSupervisor(delays: number[]): Promise<{ port: number; calls: () => number; close: () => void }> {
  let n = 0;
  const server = http.createServer((req, res) => {
    const delay = delays[Math.min(n, delays.length - 1)]!;
    n++;
    const t = setTimeout(() => res.end(JSON.stringify({ ready: true })), delay);
    req.on('close', () => clearTimeout(t));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    calls: () => n,
    close: () => server.closeAllConnections?.() ?? server.close(),
  };
}

function writeState(controlPort: number): void {
  const st = { ready: true, origin: 'tests', supervisorPid: process.pid, controlPort, portBase: 21400, pids: {} };
  fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(st));
}

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('Lab.attach on a loaded machine', () => {
  test('a supervisor that answers /health only after 2.5 s is attached, not declared absent', async () => {
    const sup = await fakeSupervisor([2500, 2500, 0]);
    try {
      writeState(sup.port);
      const lab = await Lab.attach();
      expect(lab.state.controlPort).toBe(sup.port);
      // The first try timed out at 2 s; a later, longer one got the answer.
      expect(sup.calls()).toBeGreaterThanOrEqual(2);
    } finally {
      sup.close();
    }
  });

  test('a live supervisor that never answers fails with what was tried, within the deadline', async () => {
    const sup = await fakeSupervisor([60_000]);
    try {
      writeState(sup.port);
      const err = await Lab.attach().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(LabError);
      expect((err as Error).message).toMatch(
        new RegExp(
          `pid ${process.pid}\\) is running but its control API on port ${sup.port} did not answer /health: \\d+ tries over`,
        ),
      );
      expect((err as Error).message).toContain('no answer within 2000 ms');
    } finally {
      sup.close();
    }
  }, 30_000);

  test('no state file means no lab, at once', async () => {
    fs.rmSync(path.join(dir, 'state.json'), { force: true });
    await expect(Lab.attach()).rejects.toThrow(/no lab is running/);
  });
});

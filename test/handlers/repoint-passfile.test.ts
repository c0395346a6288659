import { RepointFailedError } from '../../lambdas/adapters/postgres/errors';
import { DEFAULT_SETTINGS } from '../../lambdas/core';
import { type Deps, NodeUnreachableError } from '../../lambdas/handlers/deps';
import { handler as repoint } from '../../lambdas/handlers/repoint-replica';
import type { RunState } from '../../lambdas/handlers/run-state';
import type { HostScript } from '../../lambdas/ports/host-command-port';
import type { ReplicationTarget } from '../../lambdas/ports/postgres-port';
import { FAILOVER_HOLDER, failingOverLease, memoryLease, stepDeps } from './fixtures';

jest.mock('../../lambdas/handlers/deps', () => ({
  ...jest.requireActual('../../lambdas/handlers/deps'),
  deps: () => Promise.resolve(currentDeps),
}));
let currentDeps: Deps;

const PASSWORD = 'never-in-a-record';
const PASSFILE = '/var/lib/postgresql/15/.pgpass-pgquorum';

/**
 * A failover at epoch 4, pg2 promoted, pg3 to re-point. `attempts`: what each repoint call does (throw or stream);
 * `host`: what write-passfile prints, or the error it throws.
 */
function world(attempts: (Error | 'streams')[], host?: string | Error) {
  const timeline: string[] = [];
  const hostCalls: { script: HostScript; params: Readonly<Record<string, string>> }[] = [];
  const targets: ReplicationTarget[] = [];
  const cell = memoryLease(failingOverLease({ promotedLsn: '0/5000100' }));
  currentDeps = {
    ...stepDeps(cell, timeline),
    config: {
      settings: { ...DEFAULT_SETTINGS, replicationMode: 'async' },
      PGQ_PGDATA: '/var/lib/postgresql/15/main',
      sslMode: 'verify-full',
      PGQ_HOST_CA_FILE: '/etc/pgquorum/db-ca.pem',
    },
    repl: { user: 'replicator', password: PASSWORD },
    rewind: { user: 'pgquorum_rewind' },
    pg: {
      probe: async (n: { name: string }) => ({ node: n.name, ok: true, latencyMs: 1, role: 'primary' }),
      repoint: async (_r: unknown, _p: unknown, t: ReplicationTarget) => {
        targets.push(t);
        const a = attempts.shift();
        if (a instanceof Error) throw a;
      },
    },
    host: {
      run: async (_n: unknown, script: HostScript, params: Readonly<Record<string, string>>) => {
        hostCalls.push({ script, params });
        if (host instanceof Error) throw host;
        return { exitCode: 0, stdout: host ?? '', stderr: '' };
      },
    },
  } as unknown as Deps;
  return { timeline, hostCalls, targets };
}

const state: RunState = {
  input: { mode: 'failover', cluster: 'lab', reason: 'test' },
  epoch: 4,
  oldPrimary: 'pg1',
  candidate: 'pg2',
  replicas: ['pg3'],
  newTimeline: 2,
};
const run = () => repoint({ state, item: 'pg3', executionName: FAILOVER_HOLDER });
const notStreaming = new RepointFailedError(
  'pg3 does not stream from pg2 on timeline 2 within 20000 ms (no WAL receiver)',
);

describe('RepointReplicas: a replica host without its passfile', () => {
  it('asks the host, which writes the missing passfile, and re-points once more: streaming, and said why', async () => {
    const w = world([notStreaming, 'streams'], `PASSFILE=${PASSFILE} PASSFILE_STATE=missing\n`);
    const r = await run();
    expect(r).toEqual({
      replica: 'pg3',
      ok: true,
      detail: `streams from pg2 on timeline 2 (its passfile at ${PASSFILE} was missing: written by write-passfile, then re-pointed)`,
    });
    // The host gets role names only: its script reads the passwords from the hosts' secret itself.
    expect(w.hostCalls).toEqual([
      { script: 'write-passfile', params: { REPL_USER: 'replicator', REWIND_USER: 'pgquorum_rewind' } },
    ]);
    // Both attempts name the same passfile, never a password.
    expect(w.targets.map((t) => t.passfile)).toEqual([PASSFILE, PASSFILE]);
    expect(JSON.stringify([w.targets, w.timeline, r])).not.toContain(PASSWORD);
    expect(w.timeline.filter((l) => l.startsWith('repoint-passfile'))).toHaveLength(2);
    expect(w.timeline.at(-1)).toBe(`repoint: pg3: ${r.detail}`);
  });

  it('a current passfile was not the cause: reported not re-pointed, one sentence naming the path and the fix', async () => {
    const w = world([notStreaming], `PASSFILE=${PASSFILE} PASSFILE_STATE=current\n`);
    const r = await run();
    expect(r.ok).toBe(false);
    expect(r.detail).toBe(
      `not re-pointed: ${notStreaming.message} (its passfile at ${PASSFILE} is current, so not the cause): run pgquorum rejoin pg3`,
    );
    expect(w.targets).toHaveLength(1);
  });

  it('a host that cannot be reached: not re-pointed, with the rejoin to run once it answers', async () => {
    world([notStreaming], new Error('write-passfile to pg3 not delivered within 10000 ms (Pending)'));
    const r = await run();
    expect(r.detail).toMatch(
      new RegExp(
        `; its passfile at ${PASSFILE} could not be checked or written \\(write-passfile to pg3 not delivered .*\\): run pgquorum rejoin pg3$`,
      ),
    );
  });

  it('an unreachable replica never costs a host command', async () => {
    const w = world([new NodeUnreachableError('pg3 (10.0.0.3:5432) unreachable: connect ETIMEDOUT')]);
    const r = await run();
    expect(r).toMatchObject({
      ok: false,
      detail: 'not re-pointed: pg3 (10.0.0.3:5432) unreachable: connect ETIMEDOUT',
    });
    expect(w.hostCalls).toEqual([]);
  });
});

import type { Lease } from '../../lambdas/core/types';
import type { Deps } from '../../lambdas/handlers/deps';
import { handler as finishRollback } from '../../lambdas/handlers/finish-rollback';
import { handler as rollbackSwitchover } from '../../lambdas/handlers/rollback-switchover';
import type { RunState } from '../../lambdas/handlers/run-state';
import type { TaskEvent } from '../../lambdas/handlers/task';
import type { RegisteredNode } from '../../lambdas/ports/store-port';
import { memoryLease, registeredNode } from './fixtures';

jest.mock('../../lambdas/handlers/deps', () => ({ deps: () => Promise.resolve(currentDeps) }));
let currentDeps: Deps;

const node = (name: string, ip: string): RegisteredNode => registeredNode(name, { privateIp: ip, host: ip });
const NODES = [node('pg1', '10.0.0.1'), node('pg2', '10.0.0.2'), node('pg3', '10.0.0.3')];

const switching = (): Lease => ({
  epoch: 8,
  state: 'switching-over',
  primary: 'pg1',
  holder: 'exec-1',
  leaseUntil: 2_000_000,
  reason: 'operator switchover',
  updatedAt: 1_000_000,
  lastFailoverAt: null,
  resumeState: 'steady',
  run: { holder: 'exec-1', mode: 'switchover', oldPrimary: 'pg1', candidate: 'pg2', finalLsn: '0/5000028' },
});

/** One cluster: a lease the store changes only through the core's transition, records, a host, probes. */
function world(opts: { writer?: string[]; targetRole?: 'primary' | 'replica'; oldStarts?: boolean } = {}) {
  const cell = memoryLease(switching());
  const writes = cell.writes;
  const timeline: { step: string; detail: string }[] = [];
  const records: Record<string, string[]> = {
    'writer.db': opts.writer ?? ['10.0.0.1'],
    'reader.db': ['10.0.0.2', '10.0.0.3'],
  };
  const upserts: string[] = [];
  const notes: string[] = [];
  const hostRuns: string[] = [];
  const revoked: string[] = [];
  let oldRunning = false;
  const d = {
    config: { PGQ_CLUSTER: 'lab', PGQ_WRITER_RECORD: 'writer.db', PGQ_READER_RECORD: 'reader.db', PGQ_RECORD_TTL: 5 },
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    now: () => 1_500_000,
    store: {
      getLease: cell.getLease,
      listNodes: async () => NODES,
      transitionLease: cell.transitionLease,
      appendTimeline: async (_e: number, s: { step: string; detail: string }) => void timeline.push(s),
      getEvent: async () => ({ timeline }),
    },
    dns: {
      getRecord: async (name: string) => records[name] ?? [],
      setRecord: async (name: string, ips: readonly string[]) => {
        records[name] = [...ips];
        upserts.push(`${name} -> ${ips.join(',')}`);
        return { changeId: 'C1' };
      },
    },
    notify: async (subject: string, message: string) => void notes.push(`${subject} | ${message}`),
    fence: {
      revokeIngress: async (n: { name: string }) => {
        revoked.push(n.name);
        return { revokedRules: 1 };
      },
    },
    host: {
      run: async (n: { name: string }, script: string) => {
        hostRuns.push(`${n.name}:${script}`);
        if (opts.oldStarts === false) throw new Error('script failed');
        oldRunning = true;
        return { exitCode: 0, stdout: 'STARTED=primary', stderr: '' };
      },
    },
    pg: {
      probe: async (n: { name: string }) =>
        n.name === 'pg1'
          ? oldRunning
            ? { node: 'pg1', ok: true, latencyMs: 1, role: 'primary', timeline: 1 }
            : { node: 'pg1', ok: false, latencyMs: 1, error: 'connection refused' }
          : { node: n.name, ok: true, latencyMs: 1, role: opts.targetRole ?? 'replica', timeline: 1 },
    },
    metrics: { flush: async () => undefined },
  } as unknown as Deps;
  currentDeps = d;
  return { lease: () => cell.lease, timeline, records, upserts, notes, hostRuns, revoked, writes };
}

const state = (over: Partial<RunState> = {}) => ({
  input: { mode: 'switchover', cluster: 'lab', target: 'pg2', reason: 'op' },
  epoch: 8,
  oldPrimary: 'pg1',
  candidate: 'pg2',
  finalLsn: '0/5000028',
  rollbackFrom: 'WaitForReplay',
  error: {
    Error: 'Pgq.Retriable',
    Cause: JSON.stringify({ errorMessage: 'ReplayTimeoutError: pg2 did not replay past 0/5000028 within 3000 ms' }),
  },
  ...over,
});
const call = async <R>(h: (ev: TaskEvent) => Promise<R>, s: unknown) => h({ state: s, executionName: 'exec-1' });

describe('RollbackSwitchover then FinishRollback', () => {
  it('restarts the old primary, proves it writable, records rolled-back once, notifies once; a retry repeats nothing', async () => {
    const w = world();
    const after = (await call(rollbackSwitchover, state())) as RunState;
    expect(w.hostRuns).toEqual(['pg1:start-as-primary']);
    expect(after.rollback?.reason).toMatch(
      /^switchover pg1 -> pg2 rolled back: WaitForReplay failed: ReplayTimeoutError: pg2 did not replay past 0\/5000028 within 3000 ms; pg2 is still a replica; pg1 restarted as the primary$/,
    );
    expect(w.revoked).toEqual([]);
    await call(finishRollback, after);
    expect(w.lease()).toMatchObject({ state: 'steady', primary: 'pg1', holder: null, run: { outcome: 'rolled-back' } });
    expect(w.writes[0]?.event?.fields).toMatchObject({ outcome: 'rolled-back', reason: after.rollback?.reason });
    // Nothing flipped before a promotion: the records already name pg1 and are not touched.
    expect(w.upserts).toEqual([]);
    expect(w.notes).toHaveLength(1);
    expect(w.notes[0]).toMatch(
      /switchover rolled back, pg1 is the primary \| Switchover pg1 -> pg2 at epoch 8 rolled back: writes are back on pg1/,
    );
    // Step Functions retries after the side effect: both steps succeed without repeating anything.
    await call(rollbackSwitchover, after);
    await call(finishRollback, after);
    expect(w.hostRuns).toHaveLength(1);
    expect(w.notes).toHaveLength(1);
    expect(w.writes).toHaveLength(1);
  });

  it('UPSERTs the writer record back when it names another node', async () => {
    const w = world({ writer: ['10.0.0.2'] });
    const after = (await call(rollbackSwitchover, state())) as RunState;
    await call(finishRollback, after);
    expect(w.upserts).toEqual(['writer.db -> 10.0.0.1']);
  });

  it('fences a target pg_promote was sent to, and leaves it out of the reader record', async () => {
    const w = world();
    const after = (await call(rollbackSwitchover, state({ rollbackFrom: 'PromoteTarget' }))) as RunState;
    expect(w.revoked).toEqual(['pg2']);
    await call(finishRollback, after);
    expect(w.upserts).toEqual(['reader.db -> 10.0.0.3']);
    expect(w.writes[0]?.nodes?.find((n) => n.name === 'pg2')?.status).toBe('fenced');
  });

  it('does not roll back when the target is already primary: needs-attention with the next command, nothing started', async () => {
    const w = world({ targetRole: 'primary' });
    await expect(call(rollbackSwitchover, state({ rollbackFrom: 'PromoteTarget' }))).rejects.toThrow(
      /pg2 is already primary although no promotion was recorded.*pgquorum resume --primary pg2/,
    );
    expect(w.hostRuns).toEqual([]);
    expect(w.lease().state).toBe('switching-over');
  });

  it('an old primary that does not start: the error names both nodes and the next commands', async () => {
    const w = world({ oldStarts: false });
    await expect(call(rollbackSwitchover, state())).rejects.toThrow(
      /pg1 could not be restarted as the primary.*pgquorum resume --primary pg1.*pgquorum failover --to pg2 --force/,
    );
    expect(w.lease().state).toBe('switching-over');
  });
});

describe('WaitForReplay', () => {
  it('a replay timeout is fatal (its bound is the whole outage: the run rolls back, no retried waits)', async () => {
    const { handler: waitForReplay } = await import('../../lambdas/handlers/wait-for-replay');
    world();
    const timeout = Object.assign(new Error('pg2 did not replay past 0/5000028 within 3000 ms (at 0/5000000)'), {
      name: 'ReplayTimeoutError',
    });
    let bound = 0;
    Object.assign(currentDeps, {
      config: { ...currentDeps.config, settings: { switchoverReplayTimeoutMs: 3000 } },
      pg: {
        waitForReplay: async (_n: unknown, _lsn: string, ms: number) => {
          bound = ms;
          throw timeout;
        },
      },
    });
    const err = (await waitForReplay({ state: state(), executionName: 'exec-1' }).catch((e: Error) => e)) as Error;
    expect(bound).toBe(3000);
    expect(err.name).toBe('Pgq.Fatal');
    expect(err.message).toMatch(/^FatalError: pg2 did not replay past 0\/5000028 within 3000 ms/);
  });
});

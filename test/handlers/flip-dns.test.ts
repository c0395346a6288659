import { initialLease } from '../../lambdas/core/lease';
import type { Lease } from '../../lambdas/core/types';
import { handler as checkDnsInsync } from '../../lambdas/handlers/check-dns-insync';
import type { Deps } from '../../lambdas/handlers/deps';
import { handler as flipDns } from '../../lambdas/handlers/flip-dns';
import type { RunState } from '../../lambdas/handlers/run-state';
import type { RegisteredNode } from '../../lambdas/ports/store-port';
import { registeredNode } from './fixtures';

jest.mock('../../lambdas/handlers/deps', () => ({ deps: () => Promise.resolve(currentDeps) }));
let currentDeps: Deps;

const node = (name: string, ip: string): RegisteredNode => registeredNode(name, { privateIp: ip, host: ip });

/** Route 53 as a list of changes, each INSYNC after `pendingPolls` GetChange calls. */
function world(lease: Lease, pendingPolls: number) {
  const changes: { name: string; ips: readonly string[]; polls: number }[] = [];
  const timeline: string[] = [];
  let now = 1_000_000;
  const d = {
    config: { PGQ_WRITER_RECORD: 'writer.db', PGQ_READER_RECORD: 'reader.db', PGQ_RECORD_TTL: 5 },
    log: { info: () => undefined, error: () => undefined },
    store: {
      getLease: async () => lease,
      listNodes: async () => [node('pg1', '10.0.0.1'), node('pg2', '10.0.0.2'), node('pg3', '10.0.0.3')],
      appendTimeline: async (_e: number, s: { step: string; detail: string }) =>
        void timeline.push(`${s.step}: ${s.detail}`),
    },
    dns: {
      setRecord: async (name: string, ips: readonly string[]) => {
        changes.push({ name, ips, polls: 0 });
        return { changeId: `C${changes.length}` };
      },
      changeInsync: async (id: string) => {
        const c = changes[Number(id.slice(1)) - 1]!;
        return ++c.polls > pendingPolls;
      },
    },
    now: () => now,
  } as unknown as Deps;
  currentDeps = d;
  return {
    changes,
    timeline,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const run: RunState = {
  input: { mode: 'failover', cluster: 'c', reason: 'r' },
  epoch: 7,
  oldPrimary: 'pg1',
  candidate: 'pg2',
  repointed: [
    { replica: 'pg3', ok: false, detail: 'not re-pointed: timeout' },
    { replica: 'pg1', ok: false, detail: 'fenced' },
  ],
};

describe('flip-dns and the post-commit INSYNC loop', () => {
  it('UPSERTs both records without polling, readers only among re-pointed replicas (else the primary)', async () => {
    // The run's own record (retry-safety): only the holder flips, and only after its candidate was promoted.
    const w = world(
      {
        ...initialLease('pg1', 0),
        epoch: 7,
        state: 'failing-over',
        run: {
          holder: 'c-failover-e7',
          mode: 'failover',
          oldPrimary: 'pg1',
          candidate: 'pg2',
          fenceVerified: true,
          promotedLsn: '0/5000000',
        },
      },
      3,
    );
    const out = (await flipDns({ state: run, executionName: 'c-failover-e7' })) as RunState;
    expect(w.changes).toEqual([
      { name: 'writer.db', ips: ['10.0.0.2'], polls: 0 },
      { name: 'reader.db', ips: ['10.0.0.2'], polls: 0 },
    ]);
    expect(out.dns).toEqual({ flippedAt: 1_000_000, writerChangeId: 'C1', readerChangeId: 'C2' });
    expect(w.timeline).toEqual(['flip-dns: writer.db -> 10.0.0.2 (pg2) UPSERTed, INSYNC polled after the commit']);
  });

  it('polls once per invocation, records the writer INSYNC at +N s, and ends when both are INSYNC', async () => {
    const w = world({ ...initialLease('pg2', 0), epoch: 7, state: 'steady' }, 1);
    let state = { ...run, dns: { flippedAt: 1_000_000, writerChangeId: 'C1', readerChangeId: 'C2' } } as RunState;
    w.changes.push({ name: 'writer.db', ips: [], polls: 0 }, { name: 'reader.db', ips: [], polls: 0 });
    w.advance(2000);
    state = (await checkDnsInsync({ state })) as RunState;
    expect(state.dnsWait).toEqual({ done: false, polls: 1 });
    expect(w.changes.map((c) => c.polls)).toEqual([1, 1]);
    w.advance(2500);
    state = (await checkDnsInsync({ state })) as RunState;
    expect(state.dnsWait).toEqual({ done: true, polls: 2, writerInsyncAtMs: 4500, readerInsyncAtMs: 4500 });
    expect(w.timeline).toEqual([
      'dns-insync: writer record INSYNC at +4.5 s',
      'dns-insync: reader record INSYNC at +4.5 s',
    ]);
  });

  it('a run whose epoch is no longer the lease’s ends the loop without polling', async () => {
    const w = world({ ...initialLease('pg3', 0), epoch: 8, state: 'failing-over' }, 0);
    const state = { ...run, dns: { flippedAt: 1_000_000, writerChangeId: 'C1' } } as RunState;
    const out = (await checkDnsInsync({ state })) as RunState;
    expect(out.dnsWait).toEqual({ done: true, polls: 0 });
    expect(w.timeline).toEqual([]);
  });
});

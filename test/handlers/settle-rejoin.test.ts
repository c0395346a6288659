import { initialLease } from '../../lambdas/core/lease';
import type { Lease } from '../../lambdas/core/types';
import type { Deps } from '../../lambdas/handlers/deps';
import { handler, settleRejoin } from '../../lambdas/handlers/settle-rejoin';
import type { Phase } from '../../lambdas/handlers/task';
import type { RegisteredNode } from '../../lambdas/ports/store-port';
import { registeredNode } from './fixtures';

const node = (name: string, ip: string, role: 'primary' | 'replica', status: string): RegisteredNode =>
  registeredNode(name, { privateIp: ip, host: ip, role, status });

/** An in-memory registry, lease and record: just enough of the ports for this step. */
function world(lease: Lease, nodes: RegisteredNode[]) {
  const registry = new Map(nodes.map((n) => [n.name, n]));
  const records: Record<string, string[]> = {};
  const timeline: string[] = [];
  const events: Record<string, unknown>[] = [];
  const d = {
    config: { PGQ_READER_RECORD: 'reader.db', PGQ_RECORD_TTL: 5 },
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    store: {
      getLease: async () => lease,
      listNodes: async () => [...registry.values()],
      putNode: async (n: RegisteredNode) => void registry.set(n.name, n),
      writeGuarded: async (
        _g: unknown,
        w: { nodes?: RegisteredNode[]; event?: { fields: Record<string, unknown> } },
      ) => {
        for (const n of w.nodes ?? []) registry.set(n.name, n);
        if (w.event) events.push(w.event.fields);
      },
      updateEvent: async (_e: number, patch: Record<string, unknown>) => void events.push(patch),
      appendTimeline: async (_e: number, s: { step: string; detail: string }) =>
        void timeline.push(`${s.step}: ${s.detail}`),
    },
    dns: {
      setRecord: async (name: string, values: string[]) => {
        records[name] = values;
      },
    },
    now: () => 1000,
  } as unknown as Deps;
  return { d, registry, records, timeline, events };
}

const steady: Lease = { ...initialLease('pg2', 0), epoch: 7, state: 'steady' };
const run: Phase<'oldPrimary' | 'candidate' | 'epoch'> = {
  input: { mode: 'failover', cluster: 'c', reason: 'r' },
  epoch: 7,
  oldPrimary: 'pg1',
  candidate: 'pg2',
};

describe('settle-rejoin (after the commit, outside the VPC)', () => {
  it.each([
    {
      name: 'rejoin succeeded: the old primary is back behind the reader record',
      pg1: 'healthy',
      rejoinError: undefined,
      reader: ['10.0.0.1', '10.0.0.3'],
      pg1After: 'healthy',
      step: 'reader-record: reader.db -> 10.0.0.1, 10.0.0.3',
    },
    {
      name: 'rejoin failed inside the step: needs-rejoin stays, the node is kept out of the reader record',
      pg1: 'needs-rejoin',
      rejoinError: undefined,
      reader: ['10.0.0.3'],
      pg1After: 'needs-rejoin',
      step: 'reader-record: reader.db -> 10.0.0.3',
    },
    {
      name: 'the rejoin Lambda crashed while the node was fenced: it is marked needs-rejoin, visibly',
      pg1: 'fenced',
      rejoinError: { Error: 'Lambda.Unknown', Cause: 'Task timed out after 900 seconds' },
      reader: ['10.0.0.3'],
      pg1After: 'needs-rejoin',
      step: 'rejoin-failed: rejoin of pg1 crashed: Lambda.Unknown: Task timed out after 900 seconds',
    },
    {
      name: 'a crash after the node was proven healthy leaves it healthy',
      pg1: 'healthy',
      rejoinError: { Error: 'Lambda.Unknown', Cause: 'out of memory' },
      reader: ['10.0.0.1', '10.0.0.3'],
      pg1After: 'healthy',
      step: 'reader-record: reader.db -> 10.0.0.1, 10.0.0.3',
    },
  ])('$name', async ({ pg1, rejoinError, reader, pg1After, step }) => {
    const w = world(steady, [
      node('pg1', '10.0.0.1', 'replica', pg1),
      node('pg2', '10.0.0.2', 'primary', 'healthy'),
      node('pg3', '10.0.0.3', 'replica', 'healthy'),
    ]);
    await settleRejoin({ ...run, ...(rejoinError ? { rejoinError } : {}) }, w.d);
    expect(w.records['reader.db']).toEqual(reader);
    expect(w.registry.get('pg1')!.status).toBe(pg1After);
    expect(w.timeline).toContain(step);
  });

  it('with no healthy replica the reader record points at the primary', async () => {
    const w = world(steady, [
      node('pg1', '10.0.0.1', 'replica', 'fenced'),
      node('pg2', '10.0.0.2', 'primary', 'healthy'),
      node('pg3', '10.0.0.3', 'replica', 'needs-rejoin'),
    ]);
    await settleRejoin(run, w.d);
    expect(w.records['reader.db']).toEqual(['10.0.0.2']);
  });

  it('a stale run (another failover since) changes nothing and says why', async () => {
    const w = world({ ...steady, epoch: 9 }, [
      node('pg1', '10.0.0.1', 'replica', 'fenced'),
      node('pg2', '10.0.0.2', 'replica', 'healthy'),
      node('pg3', '10.0.0.3', 'primary', 'healthy'),
    ]);
    await handler.withDeps(async () => w.d)({ state: { ...run, rejoinError: { Error: 'Lambda.Unknown' } } });
    expect(w.records).toEqual({});
    expect(w.registry.get('pg1')!.status).toBe('fenced');
    expect(w.timeline).toEqual(['settle-rejoin-skipped: settle-rejoin skipped: epoch 7 is stale (lease at 9)']);
  });

  it('refuses a call that names the lease primary as the old primary, changing nothing', async () => {
    const w = world(steady, [
      node('pg1', '10.0.0.1', 'replica', 'fenced'),
      node('pg2', '10.0.0.2', 'primary', 'healthy'),
      node('pg3', '10.0.0.3', 'replica', 'healthy'),
    ]);
    await expect(
      handler.withDeps(async () => w.d)({ state: { ...run, oldPrimary: 'pg2', candidate: 'pg1' } }),
    ).rejects.toThrow(/pg2 is the lease's primary at epoch 7: it is never rejoined; nothing changed/);
    expect(w.records).toEqual({});
    expect(w.timeline).toEqual([]);
  });
});

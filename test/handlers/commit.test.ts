import { DEFAULT_SETTINGS } from '../../lambdas/core';
import type { RunRecord } from '../../lambdas/core/types';
import { handler as commit } from '../../lambdas/handlers/commit';
import type { Deps } from '../../lambdas/handlers/deps';
import type { RunState } from '../../lambdas/handlers/run-state';
import { FAILOVER_HOLDER, failingOverLease, memoryLease, registeredNode, stepDeps } from './fixtures';

jest.mock('../../lambdas/handlers/deps', () => ({ deps: () => Promise.resolve(currentDeps) }));
let currentDeps: Deps;

/**
 * The failover at epoch 4 as Commit meets it (fenced, promoted), over the in-memory lease: the registry and history
 * writes of the commit's transaction, every notification, and the timeline.
 */
function world(run: Partial<RunRecord> = {}, names = ['pg1', 'pg2', 'pg3']) {
  const timeline: string[] = [];
  const pages: { subject: string; message: string }[] = [];
  const cell = memoryLease(failingOverLease({ promotedLsn: '0/5000100', ...run }));
  const base = stepDeps(cell, timeline, () => names.map((n) => registeredNode(n)));
  currentDeps = {
    ...base,
    config: { settings: DEFAULT_SETTINGS, PGQ_CLUSTER: 'orders' },
    pg: { probeDeadlineMs: 1500 },
    metrics: { ...base.metrics, failoverDuration: async () => undefined, bytesAtRisk: async () => undefined },
    notify: async (subject: string, message: string) => void pages.push({ subject, message }),
  } as unknown as Deps;
  return { cell, timeline, pages };
}

const state: RunState = {
  input: { mode: 'failover', cluster: 'orders', reason: 'test' },
  epoch: 4,
  startedAt: 0,
  oldPrimary: 'pg1',
  candidate: 'pg2',
  candidateReason: 'pg2 received the most WAL',
  oldPrimaryLastSeenLsn: '0/5000100',
  promotedLsn: '0/5000100',
  newTimeline: 2,
  replicas: ['pg3'],
};

const run = (s: RunState) => commit({ state: s, executionName: FAILOVER_HOLDER }) as Promise<RunState>;

describe('Commit tells the truth (issue 13)', () => {
  it('every replica re-pointed and behind the reader record: committed, and the page says so', async () => {
    const w = world();
    const out = await run({
      ...state,
      repointed: [{ replica: 'pg3', ok: true, detail: 'streams from pg2 on timeline 2' }],
      readers: ['pg3'],
    });
    expect(w.cell.lease).toMatchObject({ state: 'steady', primary: 'pg2', run: { outcome: 'committed' } });
    expect(w.cell.writes.at(-1)?.event?.fields).toMatchObject({ outcome: 'committed', newPrimary: 'pg2' });
    expect(w.cell.writes.at(-1)?.event?.fields.degraded).toBeUndefined();
    expect(out.degraded).toBeUndefined();
    expect(w.pages.map((p) => p.subject)).toEqual(['pgquorum orders: failover to pg2 committed']);
    expect(w.pages[0]?.message).not.toMatch(/Degraded/);
  });

  it.each([
    {
      name: 'a replica left not streaming, the reader record back on the primary',
      run: {},
      names: ['pg1', 'pg2', 'pg3'],
      state: {
        ...state,
        repointed: [
          {
            replica: 'pg3',
            ok: false,
            detail: 'not re-pointed: pg3 does not stream from pg2 on timeline 2 within 20000 ms (no WAL receiver)',
          },
        ],
        readers: ['pg2'],
      },
      degraded: [
        'pg3 not re-pointed: pg3 does not stream from pg2 on timeline 2 within 20000 ms (no WAL receiver)',
        'reader record names no replica: it points at the primary pg2',
      ],
      registry: { pg3: 'needs-rejoin' },
    },
    {
      name: 'a re-planned run whose reader record names only the candidate it gave up',
      run: { candidate: 'pg3', excluded: ['pg2'] },
      names: ['pg1', 'pg2', 'pg3', 'pg4'],
      state: {
        ...state,
        candidate: 'pg3',
        excluded: ['pg2'],
        replicas: ['pg4'],
        repointed: [{ replica: 'pg4', ok: true, detail: 'streams from pg3 on timeline 3' }],
        readers: ['pg2'],
      },
      degraded: ['reader record names no live node (pg2)'],
      registry: { pg2: 'needs-reclone', pg4: 'healthy' },
    },
  ])('$name: committed-degraded in the event, the page and the run state', async (c) => {
    const w = world(c.run, c.names);
    const primary = c.state.candidate;
    const out = await run(c.state);
    // The lease commits either way: the new primary takes writes.
    expect(w.cell.lease).toMatchObject({ state: 'steady', primary, run: { outcome: 'committed' } });
    const written = w.cell.writes.at(-1);
    expect(written?.event?.fields).toMatchObject({ outcome: 'committed', newPrimary: primary, degraded: c.degraded });
    for (const [n, status] of Object.entries(c.registry)) {
      expect(written?.nodes?.find((x) => x.name === n)?.status).toBe(status);
    }
    expect(out.degraded).toEqual(c.degraded);
    expect(w.pages).toHaveLength(1);
    expect(w.pages[0]?.subject).toBe(`pgquorum orders: failover to ${primary} committed-degraded`);
    expect(w.pages[0]?.message).toMatch(new RegExp(`^failover pg1 -> ${primary} at epoch 4 in \\d+ ms\\. `));
    expect(w.pages[0]?.message.endsWith(` Degraded: ${c.degraded.join('; ')}.`)).toBe(true);
    expect(w.timeline).toContain(`commit-degraded: committed-degraded: ${c.degraded.join('; ')}`);
  });
});

import { statusCommand } from '../../cli/commands/status';
import type { CliContext } from '../../cli/context';
import { makeOutput } from '../../cli/output';
import { episodeWarnings, registryWarnings } from '../../cli/status';
import { DEFAULT_SETTINGS, type Episode } from '../../lambdas/core';
import type { EventRecord } from '../../lambdas/ports/store-port';
import { lease, NOW } from '../core/builders';

const ep = (over: Partial<Episode>): Episode => ({
  kind: 'sync-standby-missing',
  active: true,
  since: NOW - 12_000,
  node: 'pg1',
  detail: 'pg1 has no synchronous standby: commits block until one streams (onNoSyncStandby block)',
  ...over,
});

describe('episodeWarnings', () => {
  it.each<[string, Episode[], Parameters<typeof lease>[0], RegExp[]]>([
    ['nothing open: no line', [ep({ active: false })], {}, []],
    [
      'a lost sync standby: one line, since when and for how long',
      [ep({})],
      {},
      [/^no synchronous standby on pg1 since .*\(12 s\): .*commits block/],
    ],
    [
      'a primary the lease does not name',
      [
        ep({
          kind: 'unnamed-primary',
          node: 'pg2',
          detail: 'pg2 answers as a writable primary but the lease names pg1',
        }),
      ],
      {},
      [/pg2 answers as a writable primary but the lease names pg1/],
    ],
    [
      'credentials refused: the line says automatic failover is off and what to check',
      [
        ep({
          kind: 'credentials-refused',
          node: 'pg1',
          detail:
            "pg1 refused the controller credentials (28P01): the probes cannot judge pg1, the primary, so no automatic failover starts until it accepts them again. Check that the controller role's password matches its secret (DbSecret)",
        }),
      ],
      {},
      [/^since .*\(12 s\): pg1 refused the controller credentials .*no automatic failover starts.*DbSecret/],
    ],
    [
      'degraded: the RPO window is open',
      [ep({})],
      { syncDegraded: { primary: 'pg1', epoch: 7, since: NOW - 5000, savedNames: 'ANY 1 (pg1, pg2, pg3)' } },
      [/no synchronous standby on pg1/, /pg1 degraded to async since .*\(5 s\).*RPO window open/],
    ],
  ])('%s', (_n, episodes, l, want) => {
    const lines = episodeWarnings(episodes, lease(l), NOW);
    expect(lines).toHaveLength(want.length);
    for (const [i, w] of want.entries()) expect(lines[i]).toMatch(w);
  });
});

describe('registryWarnings', () => {
  it.each<[string, { name: string; status: string }[], string, string[]]>([
    ['every node healthy: no line', [{ name: 'pg2', status: 'healthy' }], 'pg1', []],
    [
      'a given-up candidate: the line names it and the command',
      [
        { name: 'pg2', status: 'needs-reclone' },
        { name: 'pg3', status: 'needs-rejoin' },
      ],
      'pg1',
      [
        'pg2 was given up as a failover candidate and may hold WAL no other node has: `npx pgquorum rejoin pg2` re-clones it',
      ],
    ],
    [
      'the mark on the primary the lease names is stale: no line',
      [{ name: 'pg2', status: 'needs-reclone' }],
      'pg2',
      [],
    ],
  ])('%s', (_n, nodes, primary, want) => {
    expect(registryWarnings(nodes, lease({ primary }))).toEqual(want);
  });
});

describe('status: the last run committed-degraded', () => {
  const degraded = [
    'pg3 not re-pointed: pg3 does not stream from pg2 on timeline 2 within 20000 ms (no WAL receiver)',
    'rejoin failed: rejoin of pg1 failed: pg1 not delivered within 30000 ms; once its host is back: pgquorum rejoin pg1',
  ];
  /** A steady cluster whose last run (epoch 4) committed with `degraded` in its event; nothing leaves the process. */
  const ctxOf = (event: Partial<EventRecord>) =>
    ({
      target: { kind: 'lab', cluster: 'orders', settings: DEFAULT_SETTINGS, discovery: [] },
      store: {
        getLease: async () =>
          lease({
            epoch: 4,
            primary: 'pg2',
            run: { holder: 'x', mode: 'failover', oldPrimary: 'pg1', outcome: 'committed' },
          }),
        listNodes: async () => [],
        getVotes: async () => [],
        getEpisodes: async () => [],
        getEvent: async (epoch: number) =>
          ({
            epoch,
            kind: 'failover',
            startedAt: NOW,
            oldPrimary: 'pg1',
            reason: '',
            timeline: [],
            ...event,
          }) as EventRecord,
      },
      fence: { ingressClosed: async () => false },
      pg: async () => undefined,
      db: async () => undefined,
      dns: undefined,
      now: () => NOW,
    }) as unknown as CliContext;
  const shown = async (ctx: CliContext) => {
    const lines: string[] = [];
    await statusCommand(
      ctx,
      {},
      makeOutput(false, (s) => void lines.push(s)),
    );
    return lines.join('').split('\n');
  };

  it('prints one warning naming the epoch, the outcome word and every missing piece', async () => {
    const lines = await shown(ctxOf({ outcome: 'committed', newPrimary: 'pg2', degraded }));
    expect(lines.filter((l) => l.includes('committed-degraded'))).toEqual([
      `warning: epoch 4 committed-degraded: ${degraded.join('; ')}`,
    ]);
  });

  it('a run that committed whole prints no such line', async () => {
    const lines = await shown(ctxOf({ outcome: 'committed', newPrimary: 'pg2' }));
    expect(lines.filter((l) => l.startsWith('warning: epoch'))).toEqual([]);
    expect(lines.join('\n')).not.toContain('committed-degraded');
  });
});

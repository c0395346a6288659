import {
  type CommittedRun,
  committedRegistry,
  NEEDS_RECLONE,
  type RegistryEntry,
  rejoinWanted,
  statusAfterFailedRejoin,
} from '../../lambdas/core';

const entry = (name: string, role: 'primary' | 'replica' = 'replica', status = 'healthy') => ({
  name,
  role,
  status,
  az: 'a',
});
const before = [entry('pg1', 'primary'), entry('pg2'), entry('pg3'), entry('pg4', 'replica', 'needs-rejoin')];

describe('the registry a commit writes', () => {
  const roles = (nodes: readonly RegistryEntry[]) => nodes.map((n) => `${n.name} ${n.role} ${n.status}`);
  it.each<[string, CommittedRun, string[], RegistryEntry[]?]>([
    [
      'failover, every replica re-pointed: the old primary fenced',
      { mode: 'failover', primary: 'pg2', oldPrimary: 'pg1', repointed: [{ replica: 'pg3', ok: true }] },
      ['pg1 replica fenced', 'pg2 primary healthy', 'pg3 replica healthy', 'pg4 replica healthy'],
    ],
    [
      'switchover: the old primary stopped',
      { mode: 'switchover', primary: 'pg2', oldPrimary: 'pg1', repointed: [{ replica: 'pg3', ok: true }] },
      ['pg1 replica stopped', 'pg2 primary healthy', 'pg3 replica healthy', 'pg4 replica healthy'],
    ],
    [
      'a failed re-point needs a rejoin',
      { mode: 'failover', primary: 'pg2', oldPrimary: 'pg1', repointed: [{ replica: 'pg3', ok: false }] },
      ['pg1 replica fenced', 'pg2 primary healthy', 'pg3 replica needs-rejoin', 'pg4 replica healthy'],
    ],
    [
      'no re-point results (the Map did not run): replicas healthy',
      { mode: 'failover', primary: 'pg3', oldPrimary: 'pg1' },
      ['pg1 replica fenced', 'pg2 replica healthy', 'pg3 primary healthy', 'pg4 replica healthy'],
    ],
    [
      "the run's given-up candidate needs a re-clone, not a healthy replica behind the reader record",
      {
        mode: 'failover',
        primary: 'pg3',
        oldPrimary: 'pg1',
        givenUp: ['pg2'],
        repointed: [{ replica: 'pg4', ok: true }],
      },
      ['pg1 replica fenced', 'pg2 replica needs-reclone', 'pg3 primary healthy', 'pg4 replica healthy'],
    ],
    [
      'an earlier give-up stays marked through a later run (a forced failover after maxReplans)',
      { mode: 'failover', primary: 'pg3', oldPrimary: 'pg1', repointed: [{ replica: 'pg2', ok: true }] },
      ['pg1 replica fenced', 'pg2 replica needs-reclone', 'pg3 primary healthy', 'pg4 replica healthy'],
      [entry('pg1', 'primary'), entry('pg2', 'replica', 'needs-reclone'), entry('pg3'), entry('pg4')],
    ],
    [
      '... unless the later run promotes it',
      { mode: 'failover', primary: 'pg2', oldPrimary: 'pg1' },
      ['pg1 replica fenced', 'pg2 primary healthy', 'pg3 replica healthy', 'pg4 replica healthy'],
      [entry('pg1', 'primary'), entry('pg2', 'replica', 'needs-reclone'), entry('pg3'), entry('pg4')],
    ],
    [
      'no old primary known: only the new one changes role',
      { mode: 'failover', primary: 'pg2' },
      ['pg1 replica healthy', 'pg2 primary healthy', 'pg3 replica healthy', 'pg4 replica healthy'],
    ],
  ])('%s', (_name, run, want, nodes = before) => {
    expect(roles(committedRegistry(nodes, run))).toEqual(want);
  });

  it('keeps every other field of an entry and changes nothing in place', () => {
    const out = committedRegistry(before, { mode: 'failover', primary: 'pg2', oldPrimary: 'pg1' });
    expect(out.map((n) => n.az)).toEqual(['a', 'a', 'a', 'a']);
    expect(before[0]).toEqual(entry('pg1', 'primary'));
  });
});

describe('the re-clone mark', () => {
  it.each([
    ['needs-reclone', true, NEEDS_RECLONE],
    ['needs-rejoin', true, 'needs-rejoin'],
    ['fenced', false, 'needs-rejoin'],
    ['healthy', false, 'needs-rejoin'],
  ])('%s: a rejoin is owed %s, a failed rejoin leaves %s', (status, owed, after) => {
    expect(rejoinWanted(status)).toBe(owed);
    expect(statusAfterFailedRejoin(status)).toBe(after);
  });
});

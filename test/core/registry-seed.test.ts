import { registrySeed, type SeedNodeSpec } from '../../lambdas/core/registry-seed';

const node = (name: string, extra: Partial<SeedNodeSpec> = {}): SeedNodeSpec => ({
  name,
  instanceId: `i-${name}`,
  az: `az-${name}`,
  privateIp: `10.0.0.${name.slice(-1)}`,
  port: 5432,
  securityGroupId: `sg-${name}`,
  ...extra,
});

describe('registrySeed', () => {
  it('builds the initial lease: epoch 1, steady, naming the initial primary, held by no one', () => {
    const { lease } = registrySeed({ initialPrimary: 'pg2', nodes: [node('pg1'), node('pg2')], now: 7 });
    expect(lease).toEqual({
      epoch: 1,
      state: 'steady',
      primary: 'pg2',
      holder: null,
      leaseUntil: 0,
      reason: 'initial',
      updatedAt: 7,
      lastFailoverAt: null,
    });
    expect(registrySeed({ initialPrimary: 'pg1', nodes: [], now: 0, reason: 'lab baseline' }).lease.reason).toBe(
      'lab baseline',
    );
  });

  it.each<[string, SeedNodeSpec, Record<string, unknown>]>([
    [
      'the stack: the controller connects to the private IP',
      node('pg1'),
      { host: '10.0.0.1', port: 5432, role: 'primary', status: 'healthy', noFailover: false },
    ],
    [
      'the lab: its gate, and a replication path of its own',
      node('pg3', { host: '127.0.0.1', port: 27443, replicationHost: '127.0.0.1', replicationPort: 27453 }),
      { host: '127.0.0.1', port: 27443, replicationHost: '127.0.0.1', replicationPort: 27453, role: 'replica' },
    ],
    ['a node kept out of failovers', node('pg2', { noFailover: true }), { role: 'replica', noFailover: true }],
  ])('builds the registry item of a node: %s', (_, spec, want) => {
    const [item] = registrySeed({ initialPrimary: 'pg1', nodes: [spec], now: 0 }).nodes;
    expect(item).toMatchObject({
      name: spec.name,
      instanceId: spec.instanceId,
      securityGroupId: spec.securityGroupId,
      ...want,
    });
    if (spec.replicationHost === undefined) expect(item).not.toHaveProperty('replicationHost');
  });
});

import { decideRefused } from '../../lambdas/core';

const NOW = 1_700_000_000_000;
const refused = (node: string) => ({ node, authFailed: true, error: 'password authentication failed' });

describe("decideRefused('credentials-refused')", () => {
  it.each<[string, { node: string; authFailed?: boolean; error?: string }[], boolean, string, RegExp]>([
    ['every node accepts them', [{ node: 'pg1' }, { node: 'pg2' }], false, 'pg1', /^every node accepts/],
    [
      'the primary refuses them: no automatic failover',
      [refused('pg1'), { node: 'pg2' }],
      true,
      'pg1',
      /^pg1 refused the controller credentials \(password authentication failed\): the probes cannot judge pg1, the primary, so no automatic failover starts until it accepts them again\. Check/,
    ],
    [
      'one replica refuses them: it is no candidate',
      [{ node: 'pg1' }, refused('pg3')],
      true,
      'pg3',
      /^pg3 refused .*: the probes cannot judge pg3, so it is no failover candidate until it accepts them again/,
    ],
    [
      'every node refuses them (a rotation the functions have not read yet), named in order',
      [refused('pg3'), refused('pg1'), refused('pg2')],
      true,
      'pg1',
      /^pg1, pg2, pg3 refused .*cannot judge pg1, the primary.*DbSecret/,
    ],
  ])('%s', (_n, nodes, active, node, detail) => {
    const d = decideRefused('credentials-refused', { nodes, primary: 'pg1', now: NOW });
    expect(d.observation).toMatchObject({ kind: 'credentials-refused', active, node, now: NOW });
    expect(d.observation.detail).toMatch(detail);
  });
});

describe("decideRefused('tls-refused')", () => {
  const tls = (node: string) => ({ node, tlsFailed: true, error: 'certificate has expired' });
  it.each<
    [string, { node: string; tlsFailed?: boolean; authFailed?: boolean; error?: string }[], boolean, string, RegExp]
  >([
    [
      'every node passes',
      [{ node: 'pg1' }, { node: 'pg2', authFailed: true }],
      false,
      'pg1',
      /^every node passes the controller's TLS verification again$/,
    ],
    [
      'the primary fails it: no automatic failover, and how to fail over by hand',
      [tls('pg1'), { node: 'pg2' }],
      true,
      'pg1',
      /^pg1 failed the controller's TLS verification \(certificate has expired\): the probes cannot judge pg1, the primary, so no automatic failover starts until it passes it again\. Check the node's certificate .*pgquorum failover --to <replica> --force$/,
    ],
    [
      'two replicas fail it: they are no candidates',
      [{ node: 'pg1' }, tls('pg3'), tls('pg2')],
      true,
      'pg2',
      /^pg2, pg3 failed .*: the probes cannot judge pg2, pg3, so they are no failover candidate until they pass it again/,
    ],
  ])('%s', (_n, nodes, active, node, detail) => {
    const d = decideRefused('tls-refused', { nodes, primary: 'pg1', now: NOW });
    expect(d.observation).toMatchObject({ kind: 'tls-refused', active, node, now: NOW });
    expect(d.observation.detail).toMatch(detail);
  });
});

import { checkNodeAddresses, type IngressRule, restorableIngress } from '../../lambdas/core/table-checks';

const cfg = [
  { name: 'pg1', host: '10.0.1.10', port: 5432, securityGroupId: 'sg-00000001' },
  {
    name: 'pg2',
    host: '10.0.2.10',
    port: 5432,
    replicationHost: '10.0.2.10',
    replicationPort: 5433,
    securityGroupId: 'sg-00000002',
  },
];

describe('checkNodeAddresses: the NODE# items must say what the deploy config says', () => {
  it.each([
    ['the same addresses', [{ ...cfg[0]! }, { ...cfg[1]! }], true, /2 node address\(es\) match the deploy config/],
    [
      'a tampered host',
      [{ ...cfg[0]!, host: '203.0.113.9' }],
      false,
      /^node pg1: the table's address 203\.0\.113\.9:5432 differs from the deploy config's 10\.0\.1\.10:5432/,
    ],
    [
      'a tampered port',
      [{ ...cfg[0]!, port: 6432 }],
      false,
      /node pg1: the table's address 10\.0\.1\.10:6432 differs from the deploy config's 10\.0\.1\.10:5432/,
    ],
    [
      'a tampered replication port',
      [{ ...cfg[1]!, replicationPort: 9999 }],
      false,
      /node pg2: the table's replication address 10\.0\.2\.10:9999 differs from the deploy config's 10\.0\.2\.10:5433/,
    ],
    [
      'a tampered security group',
      [{ ...cfg[0]!, securityGroupId: 'sg-0000000f' }],
      false,
      /node pg1: the table's security group sg-0000000f differs from the deploy config's sg-00000001/,
    ],
    [
      'a node the config does not know',
      [{ name: 'pg9', host: '10.0.9.9', port: 5432 }],
      false,
      /node pg9 is in the table \(10\.0\.9\.9:5432\) but not in the deploy config \(pg1, pg2\)/,
    ],
  ])('%s', (_why, stored, ok, reason) => {
    const r = checkNodeAddresses(cfg, stored);
    expect(r.ok).toBe(ok);
    expect(r.reason).toMatch(reason);
  });
});

const pgRule = (cidrs: string[], groups: string[] = []): IngressRule => ({
  IpProtocol: 'tcp',
  FromPort: 5432,
  ToPort: 5432,
  ...(cidrs.length ? { IpRanges: cidrs.map((CidrIp) => ({ CidrIp })) } : {}),
  ...(groups.length ? { UserIdGroupPairs: groups.map((GroupId) => ({ GroupId })) } : {}),
});
const allowed = { cidrs: ['10.0.0.0/16'], securityGroupIds: ['sg-0000000a'] };

describe('restorableIngress: a fence snapshot restores only what the config allows', () => {
  it.each([
    [
      'the VPC rule as fenced',
      [pgRule(['10.0.0.0/16'])],
      [pgRule(['10.0.0.0/16'])],
      /restoring 1 rule\(s\), every source allowed/,
    ],
    [
      'an allowed group as source',
      [pgRule([], ['sg-0000000a'])],
      [pgRule([], ['sg-0000000a'])],
      /every source allowed/,
    ],
    [
      'a tampered world-open rule',
      [pgRule(['0.0.0.0/0'])],
      [],
      /restoring 0 rule\(s\); not restored, the deploy config does not allow them: tcp 5432-5432 from 0\.0\.0\.0\/0/,
    ],
    [
      'a tampered extra CIDR beside the real one',
      [pgRule(['10.0.0.0/16', '198.51.100.0/24'])],
      [pgRule(['10.0.0.0/16'])],
      /restoring 1 rule\(s\); not restored.*from 198\.51\.100\.0\/24/,
    ],
    [
      'an unknown group, an IPv6 range and a prefix list',
      [
        pgRule([], ['sg-0000000b']),
        { IpProtocol: '-1', Ipv6Ranges: [{ CidrIpv6: '::/0' }], PrefixListIds: [{ PrefixListId: 'pl-1234' }] },
      ],
      [],
      /from sg-0000000b; all traffic from ::\/0; all traffic from pl-1234/,
    ],
  ])('%s', (_why, rules, restore, reason) => {
    const d = restorableIngress({
      node: 'pg1',
      configuredGroupId: 'sg-00000001',
      snapshotGroupId: 'sg-00000001',
      rules,
      allowed,
    });
    expect(d.restore).toEqual(restore);
    expect(d.reason).toMatch(reason);
  });

  it('a snapshot of another group than the configured one restores nothing', () => {
    const d = restorableIngress({
      node: 'pg1',
      configuredGroupId: 'sg-00000001',
      snapshotGroupId: 'sg-0000dead',
      rules: [pgRule(['10.0.0.0/16'])],
      allowed,
    });
    expect(d.restore).toEqual([]);
    expect(d.reason).toBe(
      'pg1: the fence snapshot names security group sg-0000dead, the deploy config sg-00000001: nothing restored',
    );
  });
});

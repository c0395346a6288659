import type { IpPermission } from '@aws-sdk/client-ec2';
import { admitsPostgres } from '../../../lambdas/adapters/aws/ec2-fence';

const vpc = { IpRanges: [{ CidrIp: '10.0.0.0/16' }] };

/** One predicate for the fence's proof and the lab's gates (lab/world/supervisor.ts polls with it). */
describe('admitsPostgres', () => {
  it.each<[string, IpPermission[] | undefined, boolean]>([
    ['no permissions', [], false],
    ['none at all (undefined)', undefined, false],
    ['tcp 5432 from the VPC', [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, ...vpc }], true],
    ['a tcp range covering 5432', [{ IpProtocol: 'tcp', FromPort: 5000, ToPort: 6000, ...vpc }], true],
    ['tcp, another port', [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, ...vpc }], false],
    ['all traffic', [{ IpProtocol: '-1', ...vpc }], true],
    ['udp 5432', [{ IpProtocol: 'udp', FromPort: 5432, ToPort: 5432, ...vpc }], false],
    [
      'from a security group',
      [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, UserIdGroupPairs: [{ GroupId: 'sg-1' }] }],
      true,
    ],
    [
      'from a prefix list',
      [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, PrefixListIds: [{ PrefixListId: 'pl-1' }] }],
      true,
    ],
    [
      'tcp 5432 with no source (admits nothing on EC2)',
      [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, IpRanges: [] }],
      false,
    ],
    ['all traffic with no source', [{ IpProtocol: '-1' }], false],
  ])('%s: %s', (_n, perms, want) => {
    expect(admitsPostgres(perms)).toBe(want);
  });
});

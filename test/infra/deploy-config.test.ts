import fs from 'node:fs';
import path from 'node:path';
import { parseDeployConfig } from '../../infra/config';

const sample = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8')).context.pgquorum;
const clone = () => JSON.parse(JSON.stringify(sample));

describe('deployment config (cdk.json context)', () => {
  it('accepts the sample and fills defaults', () => {
    const c = parseDeployConfig(sample);
    expect(c.nodes[0]!.port).toBe(5432);
    expect(c.writerRecord).toBe('writer');
    expect(c.thresholds.failuresToDown).toBe(3);
  });

  it.each<[string, (c: ReturnType<typeof clone>) => void, RegExp]>([
    [
      'a bad node IP',
      (c) => (c.nodes[1].privateIp = '10.20.2'),
      /pgquorum\.nodes\[1\]\.privateIp: Invalid IPv4 address/,
    ],
    [
      'two probe subnets in one AZ',
      (c) => (c.probeSubnets[1].az = c.probeSubnets[0].az),
      /pgquorum\.probeSubnets: the three probe subnets must be in three distinct AZs/,
    ],
    ['two probe subnets only', (c) => c.probeSubnets.pop(), /pgquorum\.probeSubnets: exactly three probe subnets/],
    [
      'a shared security group',
      (c) => (c.nodes[2].securityGroupId = c.nodes[0].securityGroupId),
      /pgquorum\.nodes: each node needs its own security group/,
    ],
    [
      'an unknown initial primary',
      (c) => (c.initialPrimary = 'pg9'),
      /pgquorum\.initialPrimary: must be one of pg1, pg2, pg3/,
    ],
    ['a missing cluster', (c) => delete c.cluster, /pgquorum\.cluster/],
    ['a bad threshold', (c) => (c.thresholds.failuresToDown = 0), /pgquorum\.thresholds\.failuresToDown/],
  ])('names the field for %s', (_name, mutate, message) => {
    const c = clone();
    mutate(c);
    expect(() => parseDeployConfig(c)).toThrow(message);
  });
});

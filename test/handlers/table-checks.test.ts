import { FatalError } from '../../lambdas/core/errors';
import { checkedStore, restoreDecider } from '../../lambdas/handlers/deps';
import type { StorePort } from '../../lambdas/ports/store-port';
import { registeredNode } from './fixtures';

/** Issue 15: what a handler reads from the table is checked against the deploy config before it is used. */
const configured = ['pg1', 'pg2'].map((n) => {
  const r = registeredNode(n);
  return { name: r.name, host: r.host, port: r.port, securityGroupId: r.securityGroupId };
});
const storeOf = (nodes: ReturnType<typeof registeredNode>[]) =>
  ({ listNodes: async () => nodes, getLease: async () => 'lease' }) as unknown as StorePort;

describe('checkedStore: node addresses come from the deploy config, never from a tampered NODE# item', () => {
  it('passes matching items through, and every other store call untouched', async () => {
    const s = checkedStore(storeOf([registeredNode('pg1'), registeredNode('pg2')]), configured);
    expect((await s.listNodes()).map((n) => n.name)).toEqual(['pg1', 'pg2']);
    expect(await (s as unknown as { getLease(): Promise<string> }).getLease()).toBe('lease');
  });

  it('fails fatally, naming the node and both values, when an item points elsewhere', async () => {
    const s = checkedStore(
      storeOf([registeredNode('pg1'), registeredNode('pg2', { host: '203.0.113.7' })]),
      configured,
    );
    const err = await s.listNodes().catch((e: Error) => e);
    expect(err).toBeInstanceOf(FatalError);
    expect((err as Error).message).toBe(
      "node pg2: the table's address 203.0.113.7:5432 differs from the deploy config's 10.0.0.2:5432: refusing to connect or act on it",
    );
  });

  it('without a configured node list (an older deployment) it checks nothing', async () => {
    const tampered = storeOf([registeredNode('pg1', { host: '203.0.113.7' })]);
    expect(checkedStore(tampered, undefined)).toBe(tampered);
  });
});

describe('restoreDecider: a fence snapshot restores only allowed sources, on the configured group', () => {
  it('drops a tampered 0.0.0.0/0 and keeps the VPC rule', () => {
    const decide = restoreDecider({ cidrs: ['10.0.0.0/16'], securityGroupIds: [] }, configured);
    const rule = (cidr: string) => ({ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, IpRanges: [{ CidrIp: cidr }] });
    const d = decide!(registeredNode('pg1'), {
      securityGroupId: 'sg-pg1',
      rules: [rule('10.0.0.0/16'), rule('0.0.0.0/0')],
    });
    expect(d.restore).toEqual([rule('10.0.0.0/16')]);
    expect(d.reason).toMatch(/not restored, the deploy config does not allow them: tcp 5432-5432 from 0\.0\.0\.0\/0/);
  });

  it('is off without a configured allow-list (an older deployment restores its snapshot as before)', () => {
    expect(restoreDecider(undefined, configured)).toBeUndefined();
  });
});

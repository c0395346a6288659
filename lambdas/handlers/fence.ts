import { findNode } from './cluster-view';
import { record, task } from './task';

/**
 * Fence, layers 1 and 2 (DESIGN section 4): revoke the node's security-group
 * ingress (rules saved for the rejoin), then sever what revocation leaves
 * alive, since EC2 connection tracking keeps established sessions open.
 */
export const handler = task('fence', { policy: 'holder', requires: ['candidate'] }, async (state, d) => {
  const node = findNode(await d.store.listNodes(), state.oldPrimary!);
  const { revokedRules } = await d.fence.revokeIngress(node, state.epoch!);
  await record(d, state, 'fence-revoke', `revoked ${revokedRules} ingress rule(s) on ${node.securityGroupId}`);
  const severed = await d.host.severConnections(node);
  await record(
    d,
    state,
    'fence-sever',
    `${node.name}: postgres stopped immediately${severed >= 0 ? `, ${severed} tracked connection(s) closed` : ''}`,
  );
  return state;
});

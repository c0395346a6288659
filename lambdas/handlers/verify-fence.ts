import { RetriableError } from '../core/errors';
import { libpqReportedHost } from '../core/tls';
import { endpointOf, findNode, replicationEndpointOf } from './cluster-view';
import { advance, record, task } from './task';

/** The fence does not hold yet (retried with backoff, then the run aborts). */
export class FenceNotHoldingError extends RetriableError {}

/**
 * Proves the fence before anything is promoted (invariant 1), for whichever rung fenced the node: the
 * security group admits nothing, a fresh connection fails, and no replica still streams from the old node.
 * Fenced by quorum, every other node must also answer (one the controller cannot see could still be the old
 * primary's standby); fenced by STONITH, EC2 must report the instance stopped.
 */
export const handler = task(
  'verify-fence',
  { needs: ['epoch', 'oldPrimary'], policy: 'holder', requires: ['candidate'] },
  async (state, d, ev) => {
    const nodes = await d.store.listNodes();
    const old = findNode(nodes, state.oldPrimary);
    const rung = state.fence?.rung ?? 'stop-postgres';
    const problems: string[] = [];
    // Three independent proofs, taken together: the fresh connection to a revoked node is dropped, not refused, so
    // it lasts the whole connect timeout, which the other two need not wait behind.
    const [closed, fresh, others] = await Promise.all([
      d.fence.ingressClosed(old.securityGroupId),
      d.pg.probe(endpointOf(old)),
      Promise.all(nodes.filter((n) => n.name !== old.name).map((n) => d.pg.probe(endpointOf(n)))),
    ]);
    if (!closed) problems.push(`${old.securityGroupId} still admits PostgreSQL`);
    if (fresh.ok) problems.push(`a fresh connection to ${old.name} still succeeds`);
    const oldRepl = replicationEndpointOf(old);
    // With a TLS server name the replicas' conninfo names the node by it, and their WAL receiver reports that name.
    const oldHost = libpqReportedHost(d.config.sslMode, oldRepl.host, d.config.PGQ_NODE_TLS_NAMES?.[old.name]);
    for (const p of others) {
      if (
        p.ok &&
        p.streaming &&
        (p.upstream === `${oldRepl.host}:${oldRepl.port}` || p.upstream === `${oldHost}:${oldRepl.port}`)
      )
        problems.push(`${p.node} still streams from ${old.name}`);
      if (rung === 'quorum' && !p.ok)
        problems.push(`${p.node} does not answer, so it may still stream from ${old.name}`);
    }
    let instance = '';
    if (rung === 'stop-instance') {
      const s = await d.fence.instanceState(old.instanceId);
      if (s !== 'stopped' && s !== 'terminated')
        problems.push(`EC2 reports ${old.instanceId} ${s ?? 'unknown'}, not stopped`);
      instance = `, instance ${old.instanceId} ${s}`;
    }
    if (problems.length) throw new FenceNotHoldingError(`fence of ${old.name} does not hold: ${problems.join('; ')}`);
    await record(
      d,
      state,
      'verify-fence',
      `${old.name} (${rung}): ingress closed, fresh connection refused, no replica streaming from it${instance}`,
    );
    // Promote refuses until the record says the fence held.
    await advance(d, state, ev, { fenceVerified: true });
    return state;
  },
);

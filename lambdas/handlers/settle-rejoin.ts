import { commitHealth, statusAfterFailedRejoin } from '../core/commit-health';
import { findNode } from './cluster-view';
import type { Deps } from './deps';
import { pageRejoinFailure } from './rejoin-page';
import type { RunState } from './run-state';
import { type Phase, record, task } from './task';

/**
 * The last step of every run that committed, outside the VPC: Route 53 has no
 * VPC endpoint, so the rejoin steps (which must reach PostgreSQL) cannot touch
 * the reader record themselves. Puts every healthy replica behind the reader
 * record, and when the rejoin step itself crashed (timeout, out of memory: its
 * catch lands here with `rejoinError`), marks the old primary `needs-rejoin` so
 * the failure is visible instead of silently ending the run as Done, and pages
 * (once per node and epoch, see pageRejoinFailure).
 */
export async function settleRejoin(state: Phase<'candidate' | 'epoch'>, d: Deps): Promise<RunState> {
  let nodes = await d.store.listNodes();
  const primary = findNode(nodes, state.candidate);
  if (state.rejoinError && state.oldPrimary) {
    const old = findNode(nodes, state.oldPrimary);
    const detail = `rejoin of ${old.name} crashed: ${state.rejoinError.Error ?? 'error'}: ${(state.rejoinError.Cause ?? '').slice(0, 300)}`;
    // A crash after afterCommit marked the node healthy leaves it healthy: only a node not proven back is flagged.
    if (old.status !== 'healthy') {
      const flagged = { ...old, role: 'replica' as const, status: statusAfterFailedRejoin(old.status) };
      // The commit tells the truth after the fact too: a failed rejoin joins the run's degraded list.
      const degraded = [
        ...(state.degraded ?? []),
        ...commitHealth({ primary: primary.name, replicas: [], rejoinFailure: detail }).degraded,
      ];
      await d.store.writeGuarded(
        { epoch: state.epoch, primary: primary.name },
        { nodes: [flagged], event: { epoch: state.epoch, fields: { rejoin: detail, degraded } } },
      );
      await record(d, state, 'rejoin-failed', detail);
      await pageRejoinFailure(d, {
        mode: state.input.mode,
        epoch: state.epoch,
        node: old.name,
        primary: primary.name,
        status: flagged.status,
        detail,
      });
      nodes = nodes.map((n) => (n.name === old.name ? flagged : n));
    }
  }
  const readers = nodes
    .filter((n) => n.name !== primary.name && n.role === 'replica' && n.status === 'healthy')
    .map((n) => n.privateIp);
  // With no healthy replica the reader record points at the primary, so readers keep working.
  const targets = readers.length ? readers : [primary.privateIp];
  await d.dns.setRecord(d.config.PGQ_READER_RECORD, targets, { ttlSec: d.config.PGQ_RECORD_TTL });
  await record(d, state, 'reader-record', `${d.config.PGQ_READER_RECORD} -> ${targets.join(', ')}`);
  return state;
}

/** The Lambda entry point. It runs after the commit, when the lease is steady: a stale epoch skips it, quietly. */
export const handler = task(
  'settle-rejoin',
  { policy: 'after-commit', needs: ['oldPrimary', 'candidate', 'epoch'] },
  (state, d) => settleRejoin(state, d),
);

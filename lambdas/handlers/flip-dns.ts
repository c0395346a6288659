import { findNode } from './cluster-view';
import { record, task } from './task';

/**
 * UPSERTs the writer record to the new primary and the reader record to the replicas that were re-pointed,
 * without waiting for INSYNC: it runs after RepointReplicas (the new primary already commits) and before
 * Commit, and Route 53's propagation (up to 60 s) is polled after the commit by the state machine.
 */
export const handler = task(
  'flip-dns',
  { needs: ['candidate'], policy: 'holder', requires: ['candidate', 'promoted'] },
  async (state, d) => {
    const nodes = await d.store.listNodes();
    const primary = findNode(nodes, state.candidate);
    const ttlSec = d.config.PGQ_RECORD_TTL;
    const flippedAt = d.now();
    const writer = await d.dns.setRecord(d.config.PGQ_WRITER_RECORD, [primary.privateIp], { ttlSec });
    // Replicas that follow the new primary; before any re-point result (none to re-point), every other node.
    const following = state.repointed
      ? new Set(state.repointed.filter((r) => r.ok).map((r) => r.replica))
      : new Set(nodes.map((n) => n.name));
    const readerNodes = nodes.filter(
      (n) =>
        n.name !== primary.name &&
        n.name !== state.oldPrimary &&
        following.has(n.name) &&
        // A candidate this run gave up on is fenced and stopped: never behind the reader record.
        !(state.excluded ?? []).includes(n.name),
    );
    const readers = readerNodes.map((n) => n.privateIp);
    const reader = await d.dns.setRecord(d.config.PGQ_READER_RECORD, readers.length ? readers : [primary.privateIp], {
      ttlSec,
    });
    await record(
      d,
      state,
      'flip-dns',
      `${d.config.PGQ_WRITER_RECORD} -> ${primary.privateIp} (${primary.name}) UPSERTed, INSYNC polled after the commit`,
    );
    return {
      ...state,
      dns: { flippedAt, writerChangeId: writer.changeId, readerChangeId: reader.changeId },
      readers: readerNodes.length ? readerNodes.map((n) => n.name) : [primary.name],
      dnsWait: undefined,
    };
  },
);

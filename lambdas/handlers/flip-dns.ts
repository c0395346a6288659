import { findNode } from './cluster-view';
import { record, task } from './task';

/** Points the writer record at the new primary (and the reader at the rest), waiting for INSYNC. */
export const handler = task('flip-dns', { policy: 'holder', requires: ['candidate', 'promoted'] }, async (state, d) => {
  const nodes = await d.store.listNodes();
  const primary = findNode(nodes, state.candidate!);
  await d.dns.setRecord(d.config.PGQ_WRITER_RECORD, [primary.privateIp], { ttlSec: d.config.PGQ_RECORD_TTL });
  const readers = nodes.filter((n) => n.name !== primary.name && n.name !== state.oldPrimary).map((n) => n.privateIp);
  await d.dns.setRecord(d.config.PGQ_READER_RECORD, readers.length ? readers : [primary.privateIp], {
    ttlSec: d.config.PGQ_RECORD_TTL,
  });
  await record(d, state, 'flip-dns', `${d.config.PGQ_WRITER_RECORD} -> ${primary.privateIp} (${primary.name}), INSYNC`);
  return state;
});

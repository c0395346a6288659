import { FatalError } from '../core/errors';
import { rollbackLease } from '../core/lease';
import type { RegisteredNode } from '../ports/store-port';
import { findNode } from './cluster-view';
import type { Deps } from './deps';
import { record, task } from './task';

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

/** UPSERTs a record only when it does not already name exactly `ips` (before a promotion nothing flipped it). */
async function ensureRecord(d: Deps, name: string, ips: readonly string[]): Promise<boolean> {
  const now = await d.dns.getRecord(name).catch(() => [] as string[]);
  if (sameSet(now, ips)) return false;
  await d.dns.setRecord(name, ips, { ttlSec: d.config.PGQ_RECORD_TTL });
  return true;
}

/**
 * Switchover rollback, after RollbackSwitchover restarted the old primary and
 * proved it writable: the records name it again (UPSERTed back only if they
 * changed), the lease returns to the state the run started from with the old
 * primary through the core's rollbackLease (run outcome `rolled-back`), the
 * history records the outcome and reason in the same transaction, and one
 * notification names both nodes. Outside the VPC: Route 53 has no VPC
 * endpoint. A retry after the lease write changes nothing again; it only
 * sends the notification if the first attempt did not get to it.
 */
export const handler = task(
  'finish-rollback',
  { needs: ['candidate', 'epoch', 'oldPrimary'], policy: 'holder', requires: ['candidate'], retryOf: 'rolled-back' },
  async (state, d, ev, ctx) => {
    const epoch = state.epoch;
    const nodes = await d.store.listNodes();
    const old = findNode(nodes, state.oldPrimary);
    const target = state.candidate;
    const reason = state.rollback?.reason ?? `switchover ${old.name} -> ${target} rolled back`;
    if (ctx.verdict.verdict === 'act') {
      const fencedTarget = state.rollback?.targetFenced === true;
      const readers = nodes.filter((n) => n.name !== old.name && !(fencedTarget && n.name === target));
      const writerFlipped = await ensureRecord(d, d.config.PGQ_WRITER_RECORD, [old.privateIp]);
      const readerFlipped = await ensureRecord(
        d,
        d.config.PGQ_READER_RECORD,
        readers.length ? readers.map((n) => n.privateIp) : [old.privateIp],
      );
      await record(
        d,
        state,
        'rollback-records',
        `${d.config.PGQ_WRITER_RECORD} -> ${old.privateIp} (${old.name}) ${writerFlipped ? 'UPSERTed back' : 'unchanged'}; reader record ${readerFlipped ? 'UPSERTed back' : 'unchanged'}`,
      );
      const registry = nodes.map((n): RegisteredNode => {
        if (n.name === old.name) return { ...n, role: 'primary', status: 'healthy' };
        if (fencedTarget && n.name === target) return { ...n, role: 'replica', status: 'fenced' };
        return n;
      });
      const t = await d.store.transitionLease(
        (l) => rollbackLease(l, { epoch, holder: ev.executionName, reason, now: d.now() }),
        () => ({
          nodes: registry,
          event: { epoch, fields: { outcome: 'rolled-back', reason, candidate: target } },
        }),
      );
      if (!t.ok) throw new FatalError(`rollback not recorded: ${t.reason}`);
    }
    const event = await d.store.getEvent(epoch).catch(() => undefined);
    if (!event?.timeline.some((s) => s.step === 'rollback-notified')) {
      await d.notify(
        `pgquorum ${d.config.PGQ_CLUSTER}: switchover rolled back, ${old.name} is the primary`,
        `Switchover ${old.name} -> ${target} at epoch ${epoch} rolled back: writes are back on ${old.name}. ${reason}.`,
      );
      await record(d, state, 'rollback-notified', `notified: ${old.name} primary, ${target} not promoted`);
    }
    d.log.warn('switchover rolled back', { epoch, oldPrimary: old.name, target, reason });
    return state;
  },
);

import { dnsWaitDecision } from '../core/dns-wait';
import { record, task } from './task';

/**
 * One round of the post-commit INSYNC loop: one GetChange per record, never a sleep (the state machine's Wait
 * state sits between rounds). It runs after the commit, when the lease is steady, so the epoch is checked
 * here without refusing; a stale or unflipped run just ends the loop.
 */
// Policy `none`: after the commit the lease is steady, so no holder rule applies; the step compares the epoch
// itself and only ever appends its own INSYNC notes to the timeline.
export const handler = task('check-dns-insync', { policy: 'none' }, async (state, d) => {
  const lease = await d.store.getLease();
  if (!state.dns || lease.epoch !== state.epoch) {
    return { ...state, dnsWait: { done: true, polls: state.dnsWait?.polls ?? 0 } };
  }
  const prev = state.dnsWait;
  const writerInsync = prev?.writerInsyncAtMs !== undefined || (await d.dns.changeInsync(state.dns.writerChangeId));
  const readerInsync =
    state.dns.readerChangeId === undefined
      ? undefined
      : prev?.readerInsyncAtMs !== undefined || (await d.dns.changeInsync(state.dns.readerChangeId));
  const decision = dnsWaitDecision({
    elapsedMs: d.now() - state.dns.flippedAt,
    writerInsync,
    readerInsync,
    writerInsyncAtMs: prev?.writerInsyncAtMs,
    readerInsyncAtMs: prev?.readerInsyncAtMs,
  });
  for (const note of decision.notes) await record(d, state, 'dns-insync', note);
  return {
    ...state,
    dnsWait: {
      done: decision.done,
      polls: (prev?.polls ?? 0) + 1,
      ...(decision.writerInsyncAtMs !== undefined ? { writerInsyncAtMs: decision.writerInsyncAtMs } : {}),
      ...(decision.readerInsyncAtMs !== undefined ? { readerInsyncAtMs: decision.readerInsyncAtMs } : {}),
    },
  };
});

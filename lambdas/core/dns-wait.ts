/**
 * The wait for Route 53 propagation after the commit. AWS states a change reaches every Route 53 server within
 * 60 s (GetChange reports PENDING until then); the wait is bounded at twice that so a slow zone ends the loop
 * instead of holding the run, and the run is committed either way: this wait only records when clients that
 * resolve the records see the new primary.
 */

/** How long the post-commit loop polls GetChange before it gives up (ms). @default 120000 */
export const DNS_INSYNC_BOUND_MS = 120_000;

/** What one poll saw. */
export interface DnsWaitView {
  /** ms since the records were UPSERTed. */
  readonly elapsedMs: number;
  readonly writerInsync: boolean;
  /** Undefined when no reader change was made. */
  readonly readerInsync?: boolean;
  /** When each record was first seen INSYNC (ms since the flip), carried from earlier polls. */
  readonly writerInsyncAtMs?: number;
  readonly readerInsyncAtMs?: number;
  /** @default DNS_INSYNC_BOUND_MS */
  readonly boundMs?: number;
}

/** The decision: poll again after the Wait state, or stop; with what to put on the timeline. */
export interface DnsWaitDecision {
  readonly done: boolean;
  readonly writerInsyncAtMs?: number;
  readonly readerInsyncAtMs?: number;
  /** Timeline lines to record now (a record seen INSYNC for the first time, or the bound reached). */
  readonly notes: readonly string[];
  readonly reason: string;
}

const secs = (ms: number) => `+${(ms / 1000).toFixed(1)} s`;

/** Decides one round of the post-commit INSYNC loop. */
export function dnsWaitDecision(v: DnsWaitView): DnsWaitDecision {
  const bound = v.boundMs ?? DNS_INSYNC_BOUND_MS;
  const notes: string[] = [];
  const writerAt = v.writerInsyncAtMs ?? (v.writerInsync ? v.elapsedMs : undefined);
  const readerAt = v.readerInsyncAtMs ?? (v.readerInsync ? v.elapsedMs : undefined);
  if (v.writerInsyncAtMs === undefined && writerAt !== undefined)
    notes.push(`writer record INSYNC at ${secs(writerAt)}`);
  if (v.readerInsyncAtMs === undefined && readerAt !== undefined)
    notes.push(`reader record INSYNC at ${secs(readerAt)}`);
  const readerDone = v.readerInsync === undefined || readerAt !== undefined;
  if (writerAt !== undefined && readerDone) {
    return {
      done: true,
      writerInsyncAtMs: writerAt,
      readerInsyncAtMs: readerAt,
      notes,
      reason: 'every record is INSYNC',
    };
  }
  const pending = [writerAt === undefined ? 'writer' : null, readerDone ? null : 'reader']
    .filter(Boolean)
    .join(' and ');
  if (v.elapsedMs >= bound) {
    notes.push(
      `${pending} record not INSYNC after ${secs(v.elapsedMs)}: stopped waiting (the run is committed; clients that resolve it follow once Route 53 propagates)`,
    );
    return {
      done: true,
      writerInsyncAtMs: writerAt,
      readerInsyncAtMs: readerAt,
      notes,
      reason: `${pending} still PENDING at the bound`,
    };
  }
  return {
    done: false,
    writerInsyncAtMs: writerAt,
    readerInsyncAtMs: readerAt,
    notes,
    reason: `${pending} record PENDING at ${secs(v.elapsedMs)}: poll again`,
  };
}

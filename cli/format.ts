/**
 * Pure text formatting for the CLI: every function takes data and returns a
 * string, so the layout is unit-tested without AWS or PostgreSQL.
 */
import { committedLabel } from '../lambdas/core/commit-health';
import type { EventRecord } from '../lambdas/ports/store-port';
import type { StatusSnapshot, VoteRow } from './status';

/** Left-aligned columns separated by two spaces, with a dashed rule under the header. */
export function table(head: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const all = [head, ...rows].map((r) => head.map((_, i) => String(r[i] ?? '-')));
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(all[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n');
}

/** Bytes (a decimal string, as the store keeps bigints) in binary units. */
export function formatBytes(bytes: string | number | bigint | null | undefined): string {
  if (bytes === null || bytes === undefined || bytes === '') return '-';
  let n: number;
  try {
    n = Number(BigInt(bytes));
  } catch {
    return String(bytes);
  }
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let u = -1;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${n.toFixed(n < 10 ? 1 : 0)} ${units[u]}`;
}

/** A duration for people: ms under a second, then seconds, minutes, hours, days. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  const a = Math.abs(ms);
  if (a < 1000) return `${Math.round(ms)} ms`;
  if (a < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (a < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((a % 60_000) / 1000)} s`;
  if (a < 86_400_000) return `${Math.floor(ms / 3_600_000)} h ${Math.round((a % 3_600_000) / 60_000)} min`;
  return `${Math.floor(ms / 86_400_000)} d`;
}

/** Seconds of replay lag, or `-`. */
export function formatSeconds(s: number | null | undefined): string {
  return s === null || s === undefined ? '-' : `${s < 10 ? s.toFixed(3) : s.toFixed(1)} s`;
}

/** UTC time without milliseconds. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Why a vote does not count, after its reading: ` (stale)` or ` (unusable: <reason>)`; nothing for a fresh one. */
function voteNote(v: VoteRow): string {
  if (v.kind === 'fresh') return '';
  return v.kind === 'stale' ? ' (stale)' : ` (unusable: ${v.reason})`;
}

/** `patronictl list` and more: lease line, node table, votes, records, warnings. */
export function formatStatus(s: StatusSnapshot): string {
  const l = s.lease;
  const out: string[] = [];
  out.push(
    `cluster ${s.cluster} (${s.source}, ${s.replicationMode} replication)   lease epoch ${l.epoch} ${l.state}   primary ${l.primary}   holder ${l.holder ?? '-'}` +
      (l.leaseUntil > 0 ? ` until ${formatTime(l.leaseUntil)}` : ''),
  );
  out.push(`  reason: ${l.reason || '-'} (${formatDuration(s.at - l.updatedAt)} ago)`);
  out.push('');
  out.push(
    table(
      ['node', 'az', 'role', 'tl', 'lsn', 'lag', 'lag s', 'sync', 'sg', 'registry', 'seen by'],
      s.nodes.map((n) => [
        n.name + (n.name === l.primary ? ' *' : '') + (n.noFailover ? ' (nofailover)' : ''),
        n.az,
        n.role === 'replica' && n.streaming === false ? 'replica (not streaming)' : n.role,
        n.timeline,
        n.lsn,
        n.role === 'replica' ? formatBytes(n.lagBytes) : '-',
        formatSeconds(n.lagSeconds),
        n.syncState,
        n.securityGroup + (n.fenceEpoch !== null ? ` (snapshot e${n.fenceEpoch})` : ''),
        n.registryStatus,
        n.seenBy,
      ]),
    ),
  );
  out.push('');
  if (s.votes.length) {
    out.push(
      table(
        ['vote az', 'about', 'verdict', 'seq', 'age'],
        s.votes.map((v) => [v.az, v.primary, v.verdict + voteNote(v), v.seq, formatDuration(v.ageMs)]),
      ),
    );
  } else {
    out.push('votes: none');
  }
  out.push('');
  for (const [label, r] of [
    ['writer', s.writer],
    ['reader', s.reader],
  ] as const) {
    if (!r) out.push(`${label}: unknown (no hosted zone)`);
    else if (r.error) out.push(`${label} ${r.name}: ${r.error}`);
    else out.push(`${label} ${r.name} -> ${r.nodes.join(', ') || '(no record)'}`);
  }
  for (const w of s.warnings) out.push(`warning: ${w}`);
  return out.join('\n');
}

/** Figures of one event, for both the table and JSON. */
export interface EventSummary {
  readonly epoch: number;
  readonly kind: string;
  readonly startedAt: number;
  readonly outcome: string;
  readonly oldPrimary: string;
  readonly newPrimary: string | null;
  /** From the first to the last timeline step (the run itself; detection happens before it starts). */
  readonly durationMs: number | null;
  /** Bytes the run reported at risk (a JSON number; the event stores a decimal string). */
  readonly bytesAtRisk: number | null;
  readonly lostTransactions: number | null;
  readonly rejoin: string | null;
  /** A committed run's missing pieces (committed-degraded), one line each. */
  readonly degraded: readonly string[];
  /** Candidates the run gave up on and fenced (Replan). */
  readonly excluded: readonly string[];
}

/** Summarises an event record. */
export function summarizeEvent(e: EventRecord): EventSummary {
  const ats = e.timeline.map((t) => t.at);
  const commit = e.timeline.find((t) => t.step === 'commit')?.at;
  const end = commit ?? (ats.length ? Math.max(...ats) : null);
  return {
    epoch: e.epoch,
    kind: e.kind,
    startedAt: e.startedAt,
    outcome: e.outcome === 'committed' ? committedLabel(e.degraded) : e.outcome,
    oldPrimary: e.oldPrimary,
    newPrimary: e.newPrimary ?? null,
    durationMs: end !== null ? end - e.startedAt : null,
    bytesAtRisk: e.bytesAtRisk === undefined || e.bytesAtRisk === null ? null : Number(e.bytesAtRisk),
    lostTransactions: e.lostTransactions ? e.lostTransactions.length : null,
    rejoin: e.rejoin ?? null,
    degraded: e.degraded ?? [],
    excluded: e.excluded ?? [],
  };
}

function short(s: string | null, max: number): string {
  if (!s) return '-';
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** The history table, newest first. */
export function formatHistory(events: readonly EventRecord[]): string {
  if (!events.length) return 'no failovers or switchovers recorded';
  return table(
    ['epoch', 'kind', 'started', 'outcome', 'old -> new', 'duration', 'at risk', 'lost tx', 'rejoin'],
    events
      .map(summarizeEvent)
      .map((e) => [
        e.epoch,
        e.kind,
        formatTime(e.startedAt),
        e.outcome,
        `${e.oldPrimary} -> ${e.newPrimary ?? '?'}`,
        formatDuration(e.durationMs),
        formatBytes(e.bytesAtRisk),
        e.lostTransactions ?? '-',
        short(e.rejoin, 48),
      ]),
  );
}

/** A step's offset from the start of its run, right-aligned. */
function offset(ms: number): string {
  return `${`+${ms}`.padStart(7)} ms`;
}

/** One event in full: figures, candidate and reason, and every step at its offset from the start. */
export function formatEvent(e: EventRecord): string {
  const s = summarizeEvent(e);
  const candidate = e.timeline.find((t) => t.step === 'select-candidate')?.detail;
  const lines = [
    `${e.kind} at epoch ${e.epoch}: ${s.outcome}`,
    ...s.degraded.map((d) => `  degraded       ${d}`),
    ...(s.excluded.length ? [`  given up       ${s.excluded.join(', ')} (fenced: ingress revoked)`] : []),
    `  started        ${formatTime(e.startedAt)}`,
    `  primary        ${e.oldPrimary} -> ${e.newPrimary ?? '(none)'}`,
    `  reason         ${e.reason}`,
    `  candidate      ${candidate ?? '-'}`,
    `  duration       ${formatDuration(s.durationMs)} (first step to ${e.timeline.some((t) => t.step === 'commit') ? 'commit' : 'last step'})`,
    `  old primary    last seen at ${e.oldPrimaryLastSeenLsn ?? '-'}; promoted at ${e.promotedLsn ?? '-'}`,
    `  bytes at risk  ${e.bytesAtRisk == null ? '-' : `${e.bytesAtRisk} (${formatBytes(e.bytesAtRisk)})`}`,
    `  lost tx        ${e.lostTransactions === undefined ? 'unknown (not rejoined yet)' : e.lostTransactions.length ? e.lostTransactions.length : 'none'}`,
    ...(e.lostTransactions ?? []).map((t) => `                 ${t}`),
    `  rejoin         ${e.rejoin ?? '-'}`,
    '  timeline',
  ];
  const t0 = e.startedAt;
  const steps = [...e.timeline].sort((a, b) => a.at - b.at);
  const w = Math.max(0, ...steps.map((x) => x.step.length));
  for (const x of steps) lines.push(`    ${offset(x.at - t0)}  ${x.step.padEnd(w)}  ${x.detail}`);
  if (!steps.length) lines.push('    (no steps recorded)');
  return lines.join('\n');
}

/** One timeline step as a progress line while a run is followed. */
export function formatProgress(step: { step: string; at: number; detail: string }, t0: number): string {
  return `  ${offset(step.at - t0)}  ${step.step}: ${step.detail}`;
}

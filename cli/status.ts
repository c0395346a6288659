import { Client } from 'pg';
import { tlsOptionsFor } from '../lambdas/adapters/postgres/pg-node-adapter';
import { committedLabel, NEEDS_RECLONE } from '../lambdas/core/commit-health';
import type { Episode } from '../lambdas/core/episode';
import { lsnDiff } from '../lambdas/core/lsn';
import { classifyVote, type VoteKind } from '../lambdas/core/quorum';
import type { ControllerSettings } from '../lambdas/core/settings';
import type { Lease } from '../lambdas/core/types';
import { endpointOf } from '../lambdas/handlers/cluster-view';
import type { ProbeResult } from '../lambdas/ports/postgres-port';
import type { NodeSeen, RegisteredNode, StoredVote } from '../lambdas/ports/store-port';
import type { CliContext } from './context';

/** One node's row of `pgquorum status`. */
export interface NodeRow {
  readonly name: string;
  readonly az: string;
  /** What PostgreSQL says now; `down` when neither this CLI nor any probe reached it. */
  readonly role: 'primary' | 'replica' | 'down';
  /** Who saw it: `cli` (a fresh probe from here), `probe <az>` (from the votes, when this machine cannot reach it), or `none`. */
  readonly seenBy: string;
  readonly timeline: number | null;
  /** Current LSN on a primary, replay LSN on a replica. */
  readonly lsn: string | null;
  readonly receiveLsn: string | null;
  /** Bytes the replica's replay is behind the primary's current LSN (decimal string). */
  /** Bytes behind the primary (a JSON number: lag never nears 2^53 bytes). */
  readonly lagBytes: number | null;
  /** The primary's view of the standby's replay lag (pg_stat_replication.replay_lag), seconds. */
  readonly lagSeconds: number | null;
  /** sync / quorum / async / potential, from the primary's pg_stat_replication; `-` when not a standby of it. */
  readonly syncState: string | null;
  readonly streaming: boolean | null;
  readonly upstream: string | null;
  /** The node's own security group: open (admits PostgreSQL), fenced (no rule admits it), or unknown. */
  readonly securityGroup: 'open' | 'fenced' | 'unknown';
  /** The epoch of a saved fence snapshot (the node was fenced and not yet restored). */
  readonly fenceEpoch: number | null;
  /** The registry's status (healthy, needs-rejoin, ...). */
  readonly registryStatus: string;
  readonly noFailover: boolean;
  readonly error?: string;
}

/** One probe AZ's latest vote. */
export interface VoteRow {
  readonly az: string;
  readonly seq: number;
  readonly observedAt: number;
  /** Negative for a vote from the future (a skewed clock). */
  readonly ageMs: number;
  /** How the quorum counts it about the lease's primary (core classifyVote): only `fresh` counts. */
  readonly kind: VoteKind;
  /** Why it does not count (stale, from the future, about another primary, contradictory); null when fresh. */
  readonly reason: string | null;
  /** Older than voteTtlMs: counts for nothing in a quorum. */
  readonly stale: boolean;
  readonly primary: string;
  readonly primaryOk: boolean;
  readonly consecutiveFailures: number;
  /** `up`, `failing (n)` or `down (n)`: what the vote says, whether or not it counts. */
  readonly verdict: string;
}

/** A DNS record and the nodes its addresses belong to. */
export interface RecordRow {
  readonly name: string;
  readonly ips: readonly string[];
  readonly nodes: readonly string[];
  readonly error?: string;
}

/** Everything `pgquorum status` shows, as one JSON-serialisable value. */
export interface StatusSnapshot {
  readonly cluster: string;
  readonly source: 'lab' | 'aws';
  readonly at: number;
  readonly lease: Lease;
  readonly nodes: readonly NodeRow[];
  readonly votes: readonly VoteRow[];
  readonly writer: RecordRow | null;
  readonly reader: RecordRow | null;
  readonly replicationMode: string;
  readonly warnings: readonly string[];
  /** Where the target came from (stack outputs, functions, flags, lab state): a wrong table is found here. */
  readonly discovery: readonly string[];
}

/** How a vote reads and whether the quorum counts it about `primary` (the lease's), by the quorum's own rule. */
export function voteVerdict(
  v: StoredVote,
  opts: { primary: string; now: number; settings: Pick<ControllerSettings, 'voteTtlMs' | 'failuresToDown'> },
): VoteRow {
  const c = classifyVote(v, opts.primary, opts.now, opts.settings);
  return {
    az: v.az,
    seq: v.seq,
    observedAt: v.observedAt,
    ageMs: c.ageMs,
    kind: c.kind,
    reason: c.reason,
    stale: c.kind === 'stale',
    primary: v.primary,
    primaryOk: v.primaryOk,
    consecutiveFailures: v.consecutiveFailures,
    verdict: c.reading === 'up' ? 'up' : `${c.reading} (${v.consecutiveFailures})`,
  };
}

/**
 * Standby replay lag in seconds as the primary measures it. A separate tiny
 * query (the probe does not need it); best effort: null when unavailable.
 * replay_lag is only meaningful while WAL flows, which the probes' heartbeat
 * writes keep true on a live cluster.
 */
async function replayLagSeconds(
  ctx: CliContext,
  primary: RegisteredNode | undefined,
): Promise<Record<string, number | null>> {
  const db = await ctx.db();
  if (!primary || !db) return {};
  const c = new Client({
    host: primary.host,
    port: primary.port,
    ...db,
    ssl: tlsOptionsFor(db.ssl, primary.name),
    connectionTimeoutMillis: 1500,
    query_timeout: 1500,
    application_name: 'pgquorum-cli',
  });
  c.on('error', () => undefined);
  try {
    await c.connect();
    const r = await c.query<{ name: string; lag: number | null }>(
      'SELECT application_name AS name, extract(epoch FROM replay_lag)::float8 AS lag FROM pg_stat_replication',
    );
    return Object.fromEntries(r.rows.map((x) => [x.name, x.lag]));
  } catch {
    return {};
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Bytes a replica's replay is behind the primary (never negative: the two LSNs are read a moment apart). */
export function replicaLag(primaryLsn: string, replayLsn: string): string {
  const d = lsnDiff(primaryLsn, replayLsn);
  return (d > 0n ? d : 0n).toString();
}

/** The freshest vote in which some probe AZ reached the node (for machines that cannot reach the nodes). */
function seenByProbes(votes: readonly StoredVote[], node: string): { az: string; seen: NodeSeen } | undefined {
  return [...votes]
    .sort((a, b) => b.observedAt - a.observedAt)
    .map((v) => ({ az: v.az, seen: v.nodes?.[node] }))
    .find((x): x is { az: string; seen: NodeSeen } => !!x.seen?.ok);
}

async function record(ctx: CliContext, name: string | undefined, nodes: readonly RegisteredNode[]) {
  if (!name || !ctx.dns) return null;
  try {
    const ips = await ctx.dns.getRecord(name);
    return { name, ips, nodes: ips.map((ip) => nodes.find((n) => n.privateIp === ip)?.name ?? ip) };
  } catch (err) {
    return { name, ips: [], nodes: [], error: (err as Error).message };
  }
}

/**
 * The probes' episodes and the lease's degrade record as status lines: one per open episode (since when, for how
 * long, what the probe said), so a blocked or degraded cluster is never silent here.
 */
export function episodeWarnings(episodes: readonly Episode[], lease: Lease, now: number): string[] {
  const out: string[] = [];
  const ago = (t: number) => `${new Date(t).toISOString()} (${Math.max(0, Math.round((now - t) / 1000))} s)`;
  for (const e of episodes) {
    if (!e.active) continue;
    if (e.kind === 'sync-standby-missing')
      out.push(`no synchronous standby on ${e.node} since ${ago(e.since)}: ${e.detail}`);
    else if (e.kind === 'unnamed-primary' || e.kind === 'credentials-refused' || e.kind === 'tls-refused')
      out.push(`since ${ago(e.since)}: ${e.detail}`);
  }
  const d = lease.syncDegraded;
  if (d) {
    out.push(
      d.restoringSince === undefined
        ? `${d.primary} degraded to async since ${ago(d.since)} (onNoSyncStandby degrade; RPO window open; quorum sync returns when a standby streams)`
        : `${d.primary} restoring synchronous_standby_names '${d.savedNames}' since ${ago(d.restoringSince)} (RPO window open until a standby is synchronous)`,
    );
  }
  return out;
}

/**
 * Gathers the status through the product's adapters: the store (lease, votes,
 * registry, fence snapshots), a fresh probe of every node, the fence port for
 * each security group, and Route 53 for the records.
 */
/** One line per node the registry marks for a re-clone (a given-up candidate), naming the command. */
export function registryWarnings(
  nodes: readonly { name: string; status: string }[],
  lease: Pick<Lease, 'primary'>,
): string[] {
  return nodes
    .filter((n) => n.status === NEEDS_RECLONE && n.name !== lease.primary)
    .map(
      (n) =>
        `${n.name} was given up as a failover candidate and may hold WAL no other node has: \`npx pgquorum rejoin ${n.name}\` re-clones it`,
    );
}

export async function gatherStatus(ctx: CliContext): Promise<StatusSnapshot> {
  const { store, target } = ctx;
  const [lease, nodes, votes, episodes] = await Promise.all([
    store.getLease(),
    store.listNodes(),
    store.getVotes(),
    // Best effort: status must show the rest even when the episodes cannot be read.
    (async () => store.getEpisodes())().catch(() => [] as Episode[]),
  ]);
  const warnings: string[] = [];
  const pg = await ctx.pg();
  if (!pg) warnings.push('no database credentials here: node details come from the probes’ votes');
  const [probes, sgs, snapshots, writer, reader] = await Promise.all([
    Promise.all(nodes.map((n) => (pg ? pg.probe(endpointOf(n)) : Promise.resolve<ProbeResult | undefined>(undefined)))),
    Promise.all(
      nodes.map((n) =>
        ctx.fence.ingressClosed(n.securityGroupId).then(
          (closed) => (closed ? 'fenced' : 'open') as 'fenced' | 'open',
          () => 'unknown' as const,
        ),
      ),
    ),
    Promise.all(nodes.map((n) => store.getFenceSnapshot(n.name).catch(() => undefined))),
    record(ctx, target.writerRecord, nodes),
    record(ctx, target.readerRecord, nodes),
  ]);
  const now = ctx.now();
  const byName = Object.fromEntries(nodes.map((n, i) => [n.name, i]));
  const primaryProbe = probes.find((p) => p?.ok && p.role === 'primary');
  const primaryNode = primaryProbe ? nodes[byName[primaryProbe.node]!] : undefined;
  const lagSec = await replayLagSeconds(ctx, primaryNode);
  const primaryLsn = primaryProbe?.currentLsn ?? seenByProbes(votes, lease.primary)?.seen.currentLsn ?? null;
  if (pg && probes.every((p) => !p?.ok) && votes.length) {
    warnings.push('no node answered this machine: node details come from the probes’ votes');
  }
  const rows: NodeRow[] = nodes.map((n, i) => {
    const p = probes[i];
    const viaProbe = p?.ok ? undefined : seenByProbes(votes, n.name);
    const seen = p?.ok ? p : viaProbe?.seen;
    const role = seen?.role ?? 'down';
    const lsn = role === 'primary' ? (seen?.currentLsn ?? null) : (seen?.replayLsn ?? null);
    const standby = primaryProbe?.standbys?.find((s) => s.name === n.name);
    const lag = role === 'replica' && lsn && primaryLsn ? replicaLag(primaryLsn, lsn) : null;
    return {
      name: n.name,
      az: n.az,
      role,
      seenBy: p?.ok ? 'cli' : viaProbe ? `probe ${viaProbe.az}` : 'none',
      timeline: seen?.timeline ?? null,
      lsn,
      receiveLsn: seen?.receiveLsn ?? null,
      lagBytes: lag === null ? null : Number(lag),
      lagSeconds: lagSec[n.name] ?? null,
      syncState: standby?.syncState ?? null,
      streaming: role === 'replica' ? Boolean(seen?.streaming) : null,
      upstream: p?.ok ? (p.upstream ?? null) : null,
      securityGroup: sgs[i]!,
      fenceEpoch: snapshots[i]?.epoch ?? null,
      registryStatus: n.status,
      noFailover: n.noFailover,
      ...(p && !p.ok && p.error ? { error: p.error } : {}),
    };
  });
  const voteRows = votes
    .map((v) => voteVerdict(v, { primary: lease.primary, now, settings: target.settings }))
    .sort((a, b) => a.az.localeCompare(b.az));
  if (!voteRows.length) warnings.push('no votes stored: are the probes running?');
  else if (voteRows.every((v) => v.stale)) warnings.push('every vote is stale: the probes are silent');
  const primaries = rows.filter((r) => r.role === 'primary').map((r) => r.name);
  if (primaries.length > 1) warnings.push(`more than one node is primary: ${primaries.join(', ')}`);
  if (primaries.length === 1 && primaries[0] !== lease.primary && lease.state === 'steady') {
    warnings.push(`the lease names ${lease.primary} but ${primaries[0]} is the primary`);
  }
  warnings.push(...episodeWarnings(episodes, lease, now));
  warnings.push(...registryWarnings(nodes, lease));
  // The last run's commit tells the truth here too (issue 13): what the committed cluster is missing.
  const last =
    lease.run?.outcome === 'committed' ? await store.getEvent(lease.epoch).catch(() => undefined) : undefined;
  if (last?.outcome === 'committed' && last.degraded?.length) {
    warnings.push(`epoch ${last.epoch} ${committedLabel(last.degraded)}: ${last.degraded.join('; ')}`);
  }
  return {
    cluster: target.cluster,
    source: target.kind,
    at: now,
    lease,
    nodes: rows,
    votes: voteRows,
    writer,
    reader,
    replicationMode: target.settings.replicationMode,
    warnings,
    discovery: target.discovery,
  };
}

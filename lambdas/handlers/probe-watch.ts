import { decideRefused } from '../core/credentials-refused';
import { type Episode, type EpisodeObservation, episodeAgeSec, nextEpisode } from '../core/episode';
import { clearSyncDegradedLease, degradeSyncLease, redegradeSyncLease, restoreSyncLease } from '../core/lease';
import { decideSyncStandby, type SyncPrimarySeen } from '../core/sync-standby';
import type { Lease, SyncDegraded } from '../core/types';
import { decideUnnamedPrimary } from '../core/unnamed-primary';
import type { NodeEndpoint, ProbeResult } from '../ports/postgres-port';
import type { Deps } from './deps';

/** The notification of an episode's start or end. */
function pageOf(cluster: string, obs: EpisodeObservation, change: 'start' | 'end'): [string, string] {
  const c = `pgquorum ${cluster}`;
  switch (obs.kind) {
    case 'sync-standby-missing':
      return change === 'start'
        ? [`${c}: no synchronous standby on ${obs.node}`, obs.detail]
        : [`${c}: synchronous standby back on ${obs.node}`, obs.detail];
    case 'unnamed-primary':
      return change === 'start'
        ? [`${c}: ${obs.node} is a primary the lease does not name`, obs.detail]
        : [`${c}: no unnamed primary any more`, obs.detail];
    case 'credentials-refused':
      return change === 'start'
        ? [`${c}: the controller's credentials are refused`, obs.detail]
        : [`${c}: the controller's credentials are accepted again`, obs.detail];
    case 'tls-refused':
      return change === 'start'
        ? [`${c}: a node fails the controller's TLS verification`, obs.detail]
        : [`${c}: every node passes TLS verification again`, obs.detail];
    default:
      return [`${c}: needs attention`, obs.detail];
  }
}

/**
 * Moves an episode on and pages once per start and end: of the probes that see the change, the one whose
 * conditional write lands sends the notification; the others read what it wrote.
 */
export async function advanceEpisode(
  d: Deps,
  prev: Episode | undefined,
  obs: EpisodeObservation,
  page: (change: 'start' | 'end') => [string, string] = (change) => pageOf(d.config.PGQ_CLUSTER, obs, change),
): Promise<Episode | undefined> {
  const step = nextEpisode(prev, obs);
  if (!step.change || !step.episode) return step.episode;
  const won = await d.store.putEpisode(step.episode, prev?.rev ?? null).catch(() => false);
  if (!won) return (await d.store.getEpisodes().catch(() => [])).find((e) => e.kind === obs.kind) ?? prev;
  const [subject, message] = page(step.change);
  await d.notify(subject, message);
  d.log.warn('episode', { kind: obs.kind, change: step.change, node: obs.node, detail: obs.detail });
  return { ...step.episode, rev: (prev?.rev ?? 0) + 1 };
}

/**
 * After the vote: the checks that page rather than fail over. A writable primary the lease does not name, and
 * (sync mode) the primary's synchronous standby, with onNoSyncStandby's degrade and restore. Best effort: a
 * store or node error here is logged and never stops the round (the failover path does not depend on it).
 */
export async function watchRound(
  d: Deps,
  az: string,
  lease: Lease,
  results: readonly ProbeResult[],
  endpoint: (node: string) => NodeEndpoint | undefined,
): Promise<string> {
  const now = d.now();
  let episodes: Episode[];
  try {
    episodes = await d.store.getEpisodes();
  } catch (err) {
    return `episodes unreadable: ${(err as Error).message}`;
  }
  const stored = (k: Episode['kind']) => episodes.find((e) => e.kind === k);
  const notes: string[] = [];

  const up = decideUnnamedPrimary({
    lease,
    nodes: results.map((r) => ({ node: r.node, ok: r.ok, ...(r.role ? { role: r.role } : {}) })),
    now,
  });
  if (up.observation) {
    await d.metrics.unnamedPrimaries(az, up.unnamed.length);
    await advanceEpisode(d, stored('unnamed-primary'), up.observation);
  }
  if (up.unnamed.length) notes.push(up.reason);

  for (const kind of ['credentials-refused', 'tls-refused'] as const) {
    const r = decideRefused(kind, { nodes: results, primary: lease.primary, now });
    await advanceEpisode(d, stored(kind), r.observation);
    if (r.refused.length) notes.push(r.reason);
  }

  const pr = results.find((r) => r.node === lease.primary);
  const primary: SyncPrimarySeen | null =
    pr?.ok && pr.role === 'primary'
      ? { node: pr.node, syncNames: pr.syncStandbyNames ?? '', standbys: pr.standbys ?? [] }
      : null;
  const sd = decideSyncStandby({
    settings: d.config.settings,
    lease,
    primary,
    episode: stored('sync-standby-missing'),
    now,
  });
  if (sd.observation) {
    const ep = await advanceEpisode(d, stored('sync-standby-missing'), sd.observation);
    await d.metrics.syncStandbyMissingSeconds(sd.missing ? episodeAgeSec(ep, now) : 0);
  }
  if (sd.action.kind !== 'none') notes.push(sd.reason);
  await actOnSync(d, lease, sd.action, sd.reason, endpoint).catch((err: Error) =>
    d.log.warn('sync standby action failed', { action: sd.action.kind, error: err.message }),
  );
  return notes.join('; ');
}

/** The window's first timeline step, as the open and the closed event both record it. */
function degradeStep(rec: SyncDegraded) {
  return { step: 'degrade', at: rec.since, detail: `synchronous_standby_names '' (was '${rec.savedNames}')` };
}

/**
 * The open RPO window event of a degrade record. Built from the record alone and keyed by its since, so the degrade
 * and a later round's apply write the same item.
 */
function openWindow(d: Deps, rec: SyncDegraded): Promise<void> {
  return d.store.putWindowEvent({
    epoch: rec.epoch,
    kind: 'rpo-window',
    startedAt: rec.since,
    outcome: 'open',
    oldPrimary: rec.primary,
    reason: `${rec.primary} had no synchronous standby for ${d.config.settings.degradeAfterSec} s (onNoSyncStandby degrade): synchronous_standby_names '${rec.savedNames}' -> ''; commits are acknowledged without a standby (RPO window open)`,
    timeline: [degradeStep(rec)],
  });
}

async function actOnSync(
  d: Deps,
  lease: Lease,
  action: ReturnType<typeof decideSyncStandby>['action'],
  reason: string,
  endpoint: (node: string) => NodeEndpoint | undefined,
): Promise<void> {
  const c = `pgquorum ${d.config.PGQ_CLUSTER}`;
  // Both degrade pages end with how the window closes.
  const comesBack = `Quorum sync comes back once a standby has streamed for ${d.config.settings.syncRestoreAfterSec} s without a break; to end it now, repair a replica (\`npx pgquorum rejoin <node>\`).`;
  const at = (node: string) => {
    const ep = endpoint(node);
    if (!ep) throw new Error(`${node} is not in the registry`);
    return ep;
  };
  switch (action.kind) {
    case 'none':
      return;
    case 'apply': {
      const rec = lease.syncDegraded;
      // A degrade whose winner stopped between its lease write and its window event: the window is opened here,
      // before the ALTER that lets commits through without a standby (same key, so a second put changes nothing).
      if (action.names === '' && rec?.primary === lease.primary) await openWindow(d, rec);
      await d.pg.setSyncStandbyNames(at(lease.primary), action.names);
      return;
    }
    case 'degrade': {
      const t = await d.store.transitionLease((l) =>
        degradeSyncLease(l, {
          primary: lease.primary,
          epoch: lease.epoch,
          savedNames: action.savedNames,
          now: d.now(),
        }),
      );
      if (!t.ok || !t.changed || !t.lease.syncDegraded) return;
      const rec = t.lease.syncDegraded;
      // The record, then the window event, then the ALTER: no commit is acknowledged without a standby before the
      // history says the RPO window is open. If the ALTER fails, any probe's next round applies what the record asks.
      await openWindow(d, rec);
      await d.pg.setSyncStandbyNames(at(rec.primary), '');
      await d.notify(
        `${c}: ${rec.primary} degraded to async`,
        `${rec.primary} had no synchronous standby for ${d.config.settings.degradeAfterSec} s: synchronous_standby_names is now '' (was '${rec.savedNames}'), writes resume with async semantics (RPO window open). ${comesBack}`,
      );
      return;
    }
    case 'restore': {
      const t = await d.store.transitionLease((l) => restoreSyncLease(l, { primary: lease.primary, now: d.now() }));
      if (!t.ok || !t.changed || !t.lease.syncDegraded) return;
      await d.pg.setSyncStandbyNames(at(t.lease.syncDegraded.primary), t.lease.syncDegraded.savedNames);
      return;
    }
    case 'redegrade': {
      const t = await d.store.transitionLease((l) =>
        redegradeSyncLease(l, { primary: lease.primary, restoringSince: action.restoringSince }),
      );
      if (!t.ok || !t.changed || !t.lease.syncDegraded) return;
      const rec = t.lease.syncDegraded;
      // As for the first degrade: the record is written first, and any probe's next round applies what it asks.
      await d.pg.setSyncStandbyNames(at(rec.primary), '');
      await d.notify(
        `${c}: ${rec.primary} degraded to async again`,
        `${reason}: synchronous_standby_names is '' again (was '${rec.savedNames}'); the RPO window opened at ${new Date(rec.since).toISOString()} stays open. ${comesBack}`,
      );
      return;
    }
    case 'clear': {
      const rec = lease.syncDegraded;
      if (!rec) return;
      const t = await d.store.transitionLease((l) => clearSyncDegradedLease(l, { primary: rec.primary }));
      if (!t.ok || !t.changed) return;
      const end = d.now();
      await d.store.putWindowEvent({
        epoch: rec.epoch,
        kind: 'rpo-window',
        startedAt: rec.since,
        outcome: 'closed',
        oldPrimary: rec.primary,
        reason: `${rec.primary} ran without a synchronous standby for ${Math.round((end - rec.since) / 1000)} s (RPO window closed: ${reason})`,
        timeline: [
          degradeStep(rec),
          ...(rec.restoringSince !== undefined
            ? [{ step: 'restore', at: rec.restoringSince, detail: `synchronous_standby_names '${rec.savedNames}'` }]
            : []),
          { step: 'closed', at: end, detail: reason },
        ],
      });
      // No page here: the sync-standby episode's end, seen in the same round, is the one notification.
      return;
    }
  }
}

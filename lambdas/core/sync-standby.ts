import type { Episode, EpisodeObservation } from './episode';
import type { ControllerSettings } from './settings';
import type { Lease, SyncDegraded } from './types';

/** One standby as the primary's pg_stat_replication shows it. */
export interface StandbySeen {
  readonly name: string;
  readonly state: string;
  readonly syncState: string;
  /** Its walsender's age on the primary's clock (ms); undefined: unknown, judged as just started. */
  readonly streamingForMs?: number;
}

/** What one probe round saw of the primary the lease names (reached, writable). */
export interface SyncPrimarySeen {
  readonly node: string;
  /** current_setting('synchronous_standby_names'). */
  readonly syncNames: string;
  readonly standbys: readonly StandbySeen[];
}

/** The immutable view the synchronous-standby decision takes. */
export interface SyncStandbyView {
  readonly settings: Pick<
    ControllerSettings,
    'replicationMode' | 'onNoSyncStandby' | 'degradeAfterSec' | 'syncRestoreAfterSec'
  >;
  readonly lease: Pick<Lease, 'state' | 'primary' | 'epoch' | 'syncDegraded'>;
  /** null: the probe did not reach the lease's primary as a writable primary this round (the failover's business). */
  readonly primary: SyncPrimarySeen | null;
  /** The stored sync-standby episode. */
  readonly episode: Episode | undefined;
  readonly now: number;
}

/** What the probe does about the primary's synchronous_standby_names this round. */
export type SyncAction =
  /** Nothing. */
  | { readonly kind: 'none' }
  /** Claim the degrade in the lease (one probe wins), then set synchronous_standby_names to ''. */
  | { readonly kind: 'degrade'; readonly savedNames: string }
  /** Bring the primary's setting to what the lease's degrade record asks (an idempotent ALTER SYSTEM). */
  | { readonly kind: 'apply'; readonly names: string }
  /** A standby streams again: mark the degrade record restoring (one probe wins); the setting follows. */
  | { readonly kind: 'restore' }
  /** The setting is back and a standby is synchronous (or the lease moved on): clear the record. */
  | { readonly kind: 'clear' }
  /**
   * Restored, but no standby became synchronous within degradeAfterSec (it dropped again): take the record back
   * to degraded (one probe wins, it names the restoringSince it read); the setting follows ('').
   */
  | { readonly kind: 'redegrade'; readonly restoringSince: number };

/** The decision: the episode observation (null: nothing known this round), the alarm's input and the action. */
export interface SyncStandbyDecision {
  readonly observation: EpisodeObservation | null;
  /** The primary has no synchronous standby now (the SyncStandbyMissing metric). */
  readonly missing: boolean;
  readonly action: SyncAction;
  readonly reason: string;
}

const isSync = (s: StandbySeen) => s.state === 'streaming' && (s.syncState === 'sync' || s.syncState === 'quorum');

/**
 * Synchronous-standby loss (sync mode only). With `block` the primary keeps its quorum and commits wait: nothing
 * acknowledged is lost, but writes stop, so the probes say so within a round and page once. With `degrade`,
 * after degradeAfterSec without a standby, one probe (the winner of a lease write that holds only while the lease
 * is steady and names this primary at this epoch) empties synchronous_standby_names: writes resume with async
 * semantics (an RPO window), closed when a standby streams again and the saved setting is put back. The lease's
 * degrade record is the desired state: any probe brings the primary's setting to it, so a probe that acted on a
 * stale read is corrected on the next round.
 */
export function decideSyncStandby(v: SyncStandbyView): SyncStandbyDecision {
  const none = { kind: 'none' } as const;
  const rec = v.lease.syncDegraded;
  if (v.settings.replicationMode !== 'sync') {
    return {
      observation: null,
      missing: false,
      action: none,
      reason: 'async replication: no synchronous standby is expected',
    };
  }
  // A record about a primary the lease no longer names: a failover ended that window.
  if (rec && rec.primary !== v.lease.primary) {
    const movedOn = v.lease.state === 'steady' || v.lease.state === 'paused';
    return {
      observation: null,
      missing: false,
      action: movedOn ? { kind: 'clear' } : none,
      reason: `the degrade record names ${rec.primary}, the lease now names ${v.lease.primary}${movedOn ? ': clear it' : ''}`,
    };
  }
  const p = v.primary;
  if (!p) {
    return {
      observation: null,
      missing: false,
      action: none,
      reason: `${v.lease.primary} not reached as a writable primary this round: the failover decides`,
    };
  }
  const names = p.syncNames.trim();
  const sync = p.standbys.filter(isSync).map((s) => s.name);
  const streaming = p.standbys.filter((s) => s.state === 'streaming').map((s) => s.name);
  const deg: SyncDegraded | undefined = rec?.primary === p.node ? rec : undefined;
  const desired = deg ? (deg.restoringSince !== undefined ? deg.savedNames : '') : undefined;
  const observation = (active: boolean, detail: string): EpisodeObservation => ({
    kind: 'sync-standby-missing',
    active,
    node: p.node,
    detail,
    now: v.now,
  });

  if (deg && desired !== undefined && names !== desired.trim()) {
    return {
      observation: observation(
        true,
        `${p.node} has no synchronous standby (degraded to async since ${new Date(deg.since).toISOString()})`,
      ),
      missing: true,
      action: { kind: 'apply', names: desired },
      reason: `${p.node}'s synchronous_standby_names is '${names}', its degrade record asks for '${desired}'`,
    };
  }
  if (deg && deg.restoringSince === undefined) {
    const detail = `${p.node} runs without a synchronous standby (degraded to async since ${new Date(deg.since).toISOString()}: an RPO window is open)`;
    // Hysteresis: only a stream that has held for syncRestoreAfterSec brings quorum sync back; a standby that
    // streams and drops again leaves the primary async (one RPO window) instead of blocking commits at each drop.
    const afterMs = v.settings.syncRestoreAfterSec * 1000;
    const held = p.standbys.filter((s) => s.state === 'streaming' && (s.streamingForMs ?? 0) >= afterMs);
    if (held.length) {
      const names = held.map((s) => s.name).join(', ');
      return {
        observation: observation(true, detail),
        missing: true,
        action: { kind: 'restore' },
        reason: `${names} streams from ${p.node} again (for ${Math.floor((held[0]!.streamingForMs ?? 0) / 1000)} s, syncRestoreAfterSec ${afterMs / 1000}): restore synchronous_standby_names '${deg.savedNames}'`,
      };
    }
    if (streaming.length) {
      const longest = Math.max(...p.standbys.filter((s) => s.state === 'streaming').map((s) => s.streamingForMs ?? 0));
      return {
        observation: observation(true, detail),
        missing: true,
        action: none,
        reason: `${detail}; ${streaming.join(', ')} streams again, for ${Math.floor(longest / 1000)} s of syncRestoreAfterSec ${afterMs / 1000} before quorum sync is restored`,
      };
    }
    return {
      observation: observation(true, detail),
      missing: true,
      action: none,
      reason: `${detail}; no standby streams`,
    };
  }
  if (deg) {
    // Restoring: the setting is back; the record goes once a standby is synchronous under it.
    if (sync.length) {
      return {
        observation: observation(
          false,
          `${sync.join(', ')} is a synchronous standby of ${p.node} again: quorum sync restored`,
        ),
        missing: false,
        action: { kind: 'clear' },
        reason: `${p.node}'s synchronous_standby_names is back to '${deg.savedNames}' and ${sync.join(', ')} is synchronous: close the RPO window`,
      };
    }
    const restoredFor = v.now - (deg.restoringSince ?? v.now);
    const restoredSec = Math.floor(restoredFor / 1000);
    const streams = streaming.length ? `${streaming.join(', ')} streams but is not synchronous` : 'no standby streams';
    // With the saved setting back, commits wait for a standby again. One that dropped before it became
    // synchronous would leave them waiting for good: onNoSyncStandby degrade bounds that wait by degradeAfterSec,
    // counted from the restore, as it bounds the first one.
    if (
      v.settings.onNoSyncStandby === 'degrade' &&
      deg.restoringSince !== undefined &&
      restoredFor >= v.settings.degradeAfterSec * 1000
    ) {
      const blocked = `${p.node}'s synchronous_standby_names was restored ${restoredSec} s ago and no standby is synchronous (${streams})`;
      if (v.lease.state !== 'steady') {
        return {
          observation: observation(true, `${blocked}: commits block`),
          missing: true,
          action: none,
          reason: `${blocked}, but the lease is ${v.lease.state}: no degrade`,
        };
      }
      return {
        observation: observation(true, `${blocked}: commits block`),
        missing: true,
        action: { kind: 'redegrade', restoringSince: deg.restoringSince },
        reason: `${blocked}: degrade to async again (degradeAfterSec ${v.settings.degradeAfterSec})`,
      };
    }
    return {
      observation: observation(true, `${p.node} has no synchronous standby yet (synchronous_standby_names restored)`),
      missing: true,
      action: none,
      reason: `${p.node}'s synchronous_standby_names is restored ${restoredSec} s ago (${streams}); waiting for a standby to become synchronous`,
    };
  }
  if (names === '') {
    return {
      observation: observation(
        true,
        `${p.node} has an empty synchronous_standby_names in sync mode: commits are acknowledged without a standby`,
      ),
      missing: true,
      action: none,
      reason: `${p.node}'s synchronous_standby_names is empty and no degrade record explains it: set it back by hand`,
    };
  }
  if (sync.length) {
    return {
      observation: observation(false, `${sync.join(', ')} is a synchronous standby of ${p.node} again`),
      missing: false,
      action: none,
      reason: `${p.node} has synchronous standby ${sync.join(', ')}`,
    };
  }
  const since = v.episode?.active && v.episode.node === p.node ? v.episode.since : v.now;
  const forSec = Math.floor((v.now - since) / 1000);
  const streams = streaming.length ? ` (${streaming.join(', ')} streams but is not synchronous)` : '';
  if (v.settings.onNoSyncStandby === 'block') {
    return {
      observation: observation(
        true,
        `${p.node} has no synchronous standby${streams}: commits block until one streams (onNoSyncStandby block)`,
      ),
      missing: true,
      action: none,
      reason: `no synchronous standby on ${p.node} for ${forSec} s; onNoSyncStandby block: commits wait, nothing acknowledged is lost`,
    };
  }
  const detail = `${p.node} has no synchronous standby${streams}: commits block; onNoSyncStandby degrade goes async after ${v.settings.degradeAfterSec} s`;
  if (v.now - since < v.settings.degradeAfterSec * 1000) {
    return {
      observation: observation(true, detail),
      missing: true,
      action: none,
      reason: `no synchronous standby on ${p.node} for ${forSec} s of ${v.settings.degradeAfterSec} s before degrading`,
    };
  }
  if (v.lease.state !== 'steady') {
    return {
      observation: observation(true, detail),
      missing: true,
      action: none,
      reason: `no synchronous standby on ${p.node} for ${forSec} s, but the lease is ${v.lease.state}: no degrade`,
    };
  }
  return {
    observation: observation(true, detail),
    missing: true,
    action: { kind: 'degrade', savedNames: names },
    reason: `no synchronous standby on ${p.node} for ${forSec} s (degradeAfterSec ${v.settings.degradeAfterSec}): degrade to async`,
  };
}

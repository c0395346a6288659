/**
 * Episodes: a condition the probes watch (no synchronous standby, a primary the lease does not name) that
 * starts and ends. Three probes see the same condition at about the same time; one stored item per kind,
 * written conditionally on its revision, makes one of them the one that pages, so an operator gets one
 * notification when it starts and one when it ends. The same claim keeps the pages of a run's steps to one per
 * event (`escalation` per escalated lease version, `rejoin-failed` per node and epoch) across retries.
 */

/** What an episode is about. */
export type EpisodeKind =
  | 'sync-standby-missing'
  | 'unnamed-primary'
  | 'escalation'
  | 'credentials-refused'
  | 'tls-refused'
  | 'rejoin-failed';

/** The stored state of one kind of episode (one item per kind and cluster). */
export interface Episode {
  readonly kind: EpisodeKind;
  readonly active: boolean;
  /** When the current (or last) episode started (ms epoch). */
  readonly since: number;
  /** The node it is about (the primary without a standby; the writable node the lease does not name). */
  readonly node: string;
  /** The sentence that started it (or ended it, once inactive). */
  readonly detail: string;
  readonly endedAt?: number;
  /** Compare-and-set token: bumped by every write. Managed by the store. */
  readonly rev?: number;
}

/** What one probe observed this round about one kind of condition. */
export interface EpisodeObservation {
  readonly kind: EpisodeKind;
  /** The condition holds now. */
  readonly active: boolean;
  readonly node: string;
  /** One sentence: what holds (or what ended it). */
  readonly detail: string;
  readonly now: number;
}

/** The next stored episode and whether this round started or ended one (null: nothing to write). */
export interface EpisodeStep {
  readonly episode: Episode | undefined;
  readonly change: 'start' | 'end' | null;
}

/**
 * The next episode state from the stored one and this round's observation. A condition about another node
 * than the active episode's starts a new episode (a new page: it is a new event). An unchanged condition
 * writes nothing, so a steady state costs no writes.
 */
export function nextEpisode(prev: Episode | undefined, obs: EpisodeObservation): EpisodeStep {
  const running = prev?.active ? prev : undefined;
  if (obs.active && (!running || running.node !== obs.node)) {
    return {
      change: 'start',
      episode: { kind: obs.kind, active: true, since: obs.now, node: obs.node, detail: obs.detail },
    };
  }
  if (!obs.active && running) {
    return {
      change: 'end',
      episode: { ...running, active: false, endedAt: obs.now, detail: obs.detail },
    };
  }
  return { change: null, episode: prev };
}

/** Seconds an active episode has lasted at `now` (0 when none is active): the alarm's metric. */
export function episodeAgeSec(e: Episode | undefined, now: number): number {
  return e?.active ? Math.max(0, Math.floor((now - e.since) / 1000)) : 0;
}

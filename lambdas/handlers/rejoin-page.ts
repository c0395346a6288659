import { nextEpisode } from '../core/episode';
import type { Deps } from './deps';

/** A failed rejoin that made a committed run degraded, as its page tells it. */
export interface RejoinFailure {
  readonly mode: 'failover' | 'switchover';
  readonly epoch: number;
  /** The node that was not brought back. */
  readonly node: string;
  /** The run's new primary. */
  readonly primary: string;
  /** The registry status the failure left (`needs-rejoin`, or `needs-reclone` kept). */
  readonly status: string;
  /** One line: what failed. */
  readonly detail: string;
}

/**
 * Pages that a committed run is degraded because `node` was not rejoined, naming the next command; called only
 * after the guarded write that marks the run's event degraded landed. Once per node and epoch: the page goes to the
 * caller whose `rejoin-failed` episode write (conditional on its revision) lands, so a Step Functions retry of the
 * step, SettleRejoin after a rejoin that crashed once it had paged, or an operator's `pgquorum rejoin` failing again
 * at the same epoch finds the claim taken and stays quiet. When the store cannot say who claimed it, it pages: a
 * second page beats none. Never throws: the committed run stands whatever the notification does.
 * @returns whether it paged
 */
export async function pageRejoinFailure(d: Deps, f: RejoinFailure): Promise<boolean> {
  try {
    const episodes = await d.store.getEpisodes().catch(() => undefined);
    if (episodes) {
      const prev = episodes.find((e) => e.kind === 'rejoin-failed');
      const claim = nextEpisode(prev, {
        kind: 'rejoin-failed',
        active: true,
        node: `${f.node} at epoch ${f.epoch}`,
        detail: f.detail.slice(0, 500),
        now: d.now(),
      });
      if (!claim.change || !claim.episode) return false;
      const won = await d.store.putEpisode(claim.episode, prev?.rev ?? null).catch(() => 'unknown' as const);
      if (won === false) return false;
    }
    await d.notify(
      `pgquorum ${d.config.PGQ_CLUSTER}: ${f.mode} to ${f.primary} committed-degraded, ${f.node} not rejoined`,
      `${f.detail}. The ${f.mode} at epoch ${f.epoch} stands: ${f.primary} is the primary. ${f.node} is ${f.status} in the registry and kept out of the reader record, so the cluster has one replica fewer than it should. Next: \`npx pgquorum rejoin ${f.node}\` once its host answers (\`npx pgquorum status\` shows it).`,
    );
    return true;
  } catch (err) {
    d.log.warn('rejoin failure not paged', { node: f.node, epoch: f.epoch, error: (err as Error).message });
    return false;
  }
}

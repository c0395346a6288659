import type { EpisodeObservation } from './episode';
import type { Lease } from './types';

/** One node as this probe round saw it. */
export interface NodeAnswer {
  readonly node: string;
  /** Reached, and for a primary its heartbeat committed (it accepts writes). */
  readonly ok: boolean;
  readonly role?: 'primary' | 'replica';
}

/** The unnamed-primary check's view. */
export interface UnnamedPrimaryView {
  readonly lease: Pick<Lease, 'state' | 'primary' | 'epoch'>;
  readonly nodes: readonly NodeAnswer[];
  readonly now: number;
}

/** What the check found: the episode observation (null: not judged this round), the nodes, why. */
export interface UnnamedPrimaryDecision {
  readonly observation: EpisodeObservation | null;
  /** Writable primaries the lease does not name (the UnnamedPrimary metric counts them). */
  readonly unnamed: readonly string[];
  readonly reason: string;
}

const IN_FLIGHT: readonly Lease['state'][] = ['failing-over', 'switching-over'];

/**
 * A node that answers as a writable primary (not in recovery, its heartbeat committed) while the lease names
 * another is a second writer the controller did not make, or one a run made and gave up: clients that reach it
 * write into a history that will be rewound. Judged outside a run only: during one, the candidate is promoted
 * before the commit names it.
 */
export function decideUnnamedPrimary(v: UnnamedPrimaryView): UnnamedPrimaryDecision {
  if (IN_FLIGHT.includes(v.lease.state)) {
    return {
      observation: null,
      unnamed: [],
      reason: `a run holds epoch ${v.lease.epoch} (${v.lease.state}): not judged`,
    };
  }
  const unnamed = v.nodes
    .filter((n) => n.ok && n.role === 'primary' && n.node !== v.lease.primary)
    .map((n) => n.node)
    .sort();
  if (!unnamed.length) {
    return {
      observation: {
        kind: 'unnamed-primary',
        active: false,
        node: v.lease.primary,
        detail: `no writable primary but ${v.lease.primary}, the one the lease names`,
        now: v.now,
      },
      unnamed,
      reason: `only ${v.lease.primary} answers as a writable primary`,
    };
  }
  const list = unnamed.join(', ');
  const verb = unnamed.length > 1 ? 'answer' : 'answers';
  const detail =
    `${list} ${verb} as a writable primary but the lease names ${v.lease.primary} (epoch ${v.lease.epoch}, ${v.lease.state}): ` +
    `keep one writer — stop or fence ${list} and \`npx pgquorum rejoin ${unnamed[0]}\`, or if ${unnamed[0]} is the one to keep, ` +
    `\`npx pgquorum pause\` then \`npx pgquorum resume --primary ${unnamed[0]}\` and rejoin ${v.lease.primary}`;
  return {
    observation: { kind: 'unnamed-primary', active: true, node: list, detail, now: v.now },
    unnamed,
    reason: detail,
  };
}

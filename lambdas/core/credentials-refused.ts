import type { EpisodeObservation } from './episode';

/** One node as this probe round saw it, for the credentials check. */
export interface CredentialAnswer {
  readonly node: string;
  /** The node answered and refused the controller's credentials (SQLSTATE class 28). */
  readonly authFailed?: boolean;
  readonly error?: string;
}

/** The credentials check's decision: the episode observation and why. */
export interface CredentialsDecision {
  readonly observation: EpisodeObservation;
  /** The nodes that refused the controller this round, sorted. */
  readonly refused: readonly string[];
  readonly reason: string;
}

/**
 * Nodes that refuse the controller's credentials: a rotated password the functions have not read yet, an edited
 * pg_hba.conf, a dropped role. The probes cannot judge such a node (its vote counts for neither side, see
 * `readPrimary`), so automatic failover is off for it until it accepts them again: that is paged once, as an
 * episode, with what to check.
 */
export function decideCredentialsRefused(v: {
  readonly nodes: readonly CredentialAnswer[];
  readonly primary: string;
  readonly now: number;
}): CredentialsDecision {
  const refusing = v.nodes.filter((n) => n.authFailed).sort((a, b) => a.node.localeCompare(b.node));
  const refused = refusing.map((n) => n.node);
  if (!refused.length) {
    return {
      observation: {
        kind: 'credentials-refused',
        active: false,
        node: v.primary,
        detail: 'every node accepts the controller credentials again',
        now: v.now,
      },
      refused,
      reason: 'no node refuses the controller credentials',
    };
  }
  const list = refused.join(', ');
  const first = refusing[0]?.error ?? 'SQLSTATE 28';
  const judged = refused.includes(v.primary)
    ? `the probes cannot judge ${v.primary}, the primary, so no automatic failover starts until it accepts them again`
    : `the probes cannot judge ${list}, so ${refused.length > 1 ? 'they are' : 'it is'} no failover candidate until ${refused.length > 1 ? 'they accept' : 'it accepts'} them again`;
  return {
    observation: {
      kind: 'credentials-refused',
      active: true,
      node: refused[0] ?? v.primary,
      detail: `${list} refused the controller credentials (${first}): ${judged}. Check that the controller role's password matches its secret (DbSecret) and that pg_hba.conf admits it; the functions read the secret again after a refusal`,
      now: v.now,
    },
    refused,
    reason: `${list} refused the controller credentials`,
  };
}

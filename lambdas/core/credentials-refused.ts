import type { EpisodeObservation } from './episode';

/**
 * Why the controller could not judge a node that answered: it refused the controller's credentials, or it failed
 * the controller's TLS verification. Either way the node's postmaster runs, so the refusal is no evidence that it is
 * down; and the controller (its secret, its CA bundle) is as likely to be what is impaired as the node.
 */
export type RefusalKind = 'credentials-refused' | 'tls-refused';

/** One node as this probe round saw it, for the refusal checks. */
export interface CredentialAnswer {
  readonly node: string;
  /** The node answered and refused the controller's credentials (SQLSTATE class 28). */
  readonly authFailed?: boolean;
  /** The node answered and failed TLS verification (nothing was sent to it). */
  readonly tlsFailed?: boolean;
  readonly error?: string;
}

/** A refusal check's decision: the episode observation and why. */
export interface CredentialsDecision {
  readonly observation: EpisodeObservation;
  /** The nodes that refused the controller this round, sorted. */
  readonly refused: readonly string[];
  readonly reason: string;
}

/** The words of each kind of refusal. */
const REFUSAL: Record<
  RefusalKind,
  {
    readonly flag: 'authFailed' | 'tlsFailed';
    readonly did: string;
    readonly fallback: string;
    readonly cleared: string;
    readonly untilOne: string;
    readonly untilMany: string;
    readonly check: string;
  }
> = {
  'credentials-refused': {
    flag: 'authFailed',
    did: 'refused the controller credentials',
    fallback: 'SQLSTATE 28',
    cleared: 'every node accepts the controller credentials again',
    untilOne: 'it accepts them again',
    untilMany: 'they accept them again',
    check:
      "Check that the controller role's password matches its secret (DbSecret) and that pg_hba.conf admits it; the functions read the secret again after a refusal",
  },
  'tls-refused': {
    flag: 'tlsFailed',
    did: "failed the controller's TLS verification",
    fallback: 'certificate not verified',
    cleared: "every node passes the controller's TLS verification again",
    untilOne: 'it passes it again',
    untilMany: 'they pass it again',
    check:
      "Check the node's certificate (expiry, that it chains to dbCaBundle, that it names the address the controller dials or its tlsServerName) and the deployed CA bundle; nothing was sent to it. To fail over from a primary whose certificate clients no longer accept: pgquorum failover --to <replica> --force",
  },
};

/**
 * Nodes the controller cannot judge because they refused it: a rotated password the functions have not read yet,
 * an edited pg_hba.conf, a dropped role (`credentials-refused`); an expired or re-issued certificate, a rotated CA
 * (`tls-refused`). The probes do not judge such a node (its vote counts for neither side, see `readPrimary`), so
 * automatic failover is off for it until it is judged again: that is paged once, as an episode, with what to check.
 */
export function decideRefused(
  kind: RefusalKind,
  v: {
    readonly nodes: readonly CredentialAnswer[];
    readonly primary: string;
    readonly now: number;
  },
): CredentialsDecision {
  const t = REFUSAL[kind];
  const refusing = v.nodes.filter((n) => n[t.flag]).sort((a, b) => a.node.localeCompare(b.node));
  const refused = refusing.map((n) => n.node);
  if (!refused.length) {
    return {
      observation: { kind, active: false, node: v.primary, detail: t.cleared, now: v.now },
      refused,
      reason: `no node ${t.did}`,
    };
  }
  const list = refused.join(', ');
  const first = refusing[0]?.error ?? t.fallback;
  const judged = refused.includes(v.primary)
    ? `the probes cannot judge ${v.primary}, the primary, so no automatic failover starts until ${t.untilOne}`
    : `the probes cannot judge ${list}, so ${refused.length > 1 ? 'they are' : 'it is'} no failover candidate until ${refused.length > 1 ? t.untilMany : t.untilOne}`;
  return {
    observation: {
      kind,
      active: true,
      node: refused[0] ?? v.primary,
      detail: `${list} ${t.did} (${first}): ${judged}. ${t.check}`,
      now: v.now,
    },
    refused,
    reason: `${list} ${t.did}`,
  };
}

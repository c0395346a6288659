/** What a committed run proved about the cluster it leaves, as the steps recorded it. */
export interface CommitHealthInput {
  /** The new primary. */
  readonly primary: string;
  /** The replicas the run was to re-point (RunState.replicas). */
  readonly replicas: readonly string[];
  /** RepointReplicas' results; undefined when the Map did not run. */
  readonly repointed?: readonly { readonly replica: string; readonly ok: boolean; readonly detail: string }[];
  /** The nodes FlipDns put behind the reader record; undefined when not known. */
  readonly readers?: readonly string[];
  /** Nodes known not to answer (for example given up by a re-plan); a reader record naming only those serves nobody. */
  readonly deadNodes?: readonly string[];
  /** Post-commit: the rejoin's failure, one line, when it failed. */
  readonly rejoinFailure?: string;
}

/** The lease committed either way; `degraded` lists, one line each, what the cluster is missing. */
export interface CommitHealth {
  readonly degraded: readonly string[];
  /** `committed` or `committed-degraded: ...`, for the notification, status and history. */
  readonly reason: string;
}

/** The outcome word shown to operators for a committed run with or without degraded reasons. */
export function committedLabel(degraded: readonly string[] | undefined): 'committed' | 'committed-degraded' {
  return degraded?.length ? 'committed-degraded' : 'committed';
}

/**
 * The registry status of a node a failover gave up on as its candidate. It may have promoted onto a timeline whose
 * ID the next candidate also took, with another history, so only a re-clone brings it back (rejoinMethod). It
 * sticks across later runs until a rejoin succeeds: the epoch whose event listed it as given up is long gone by
 * the time an operator runs `pgquorum rejoin` after a maxReplans give-up and a forced failover.
 */
export const NEEDS_RECLONE = 'needs-reclone';

/** True when the registry says a rejoin is still owed (a node that streams anyway may be diverged). */
export function rejoinWanted(status: string): boolean {
  return status === 'needs-rejoin' || status === NEEDS_RECLONE;
}

/** The status a failed rejoin leaves: `needs-rejoin`, or `needs-reclone` kept (the failure proved nothing about it). */
export function statusAfterFailedRejoin(status: string): string {
  return status === NEEDS_RECLONE ? NEEDS_RECLONE : 'needs-rejoin';
}

/** A registry entry as the commit rewrites it: the role and status it decides, whatever else the entry carries. */
export interface RegistryEntry {
  readonly name: string;
  readonly role: 'primary' | 'replica';
  readonly status: string;
}

/** What the commit knows of the run when it rewrites the registry. */
export interface CommittedRun {
  readonly mode: 'failover' | 'switchover';
  /** The new primary. */
  readonly primary: string;
  /** The node it replaced, when known. */
  readonly oldPrimary?: string;
  /** RepointReplicas' results; undefined when the Map did not run. */
  readonly repointed?: readonly { readonly replica: string; readonly ok: boolean }[];
  /** The candidates this run gave up on (Replan marks them too; this covers a registry read before that write). */
  readonly givenUp?: readonly string[];
}

/**
 * The registry a commit writes with the lease: the new primary healthy; the old one a replica that is not
 * healthy until the rejoin proves it streams (fenced after a failover, stopped after a switchover); a node given
 * up as a candidate, by this run or an earlier one, needs a re-clone; a replica whose re-point failed needs a
 * rejoin; every other replica healthy.
 */
export function committedRegistry<N extends RegistryEntry>(nodes: readonly N[], run: CommittedRun): N[] {
  return nodes.map((n): N => {
    if (n.name === run.primary) return { ...n, role: 'primary', status: 'healthy' };
    if (n.name === run.oldPrimary) {
      return { ...n, role: 'replica', status: run.mode === 'failover' ? 'fenced' : 'stopped' };
    }
    // A given-up candidate stays marked until a rejoin re-clones it, whatever a later run did around it.
    if (n.status === NEEDS_RECLONE || run.givenUp?.includes(n.name))
      return { ...n, role: 'replica', status: NEEDS_RECLONE };
    const repointed = run.repointed?.find((x) => x.replica === n.name);
    return { ...n, role: 'replica', status: repointed && !repointed.ok ? 'needs-rejoin' : 'healthy' };
  });
}

/**
 * A commit tells the truth (issue 13): the lease is committed once the new primary takes writes, but a replica
 * left on the old timeline, a reader record that names no live replica, or a failed rejoin leaves the cluster
 * with less redundancy than the operator expects, so each is a reason of `committed-degraded`.
 */
export function commitHealth(i: CommitHealthInput): CommitHealth {
  const degraded: string[] = [];
  for (const r of i.replicas) {
    const res = i.repointed?.find((x) => x.replica === r);
    if (!res) degraded.push(`${r} not re-pointed: no result recorded`);
    else if (!res.ok)
      degraded.push(`${r} ${res.detail.startsWith('not re-pointed') ? '' : 'not re-pointed: '}${res.detail}`);
  }
  // A cluster with no other replica has only the primary to name (the old primary rejoins after the commit).
  if (i.readers && i.replicas.length) {
    const dead = new Set(i.deadNodes ?? []);
    const live = i.readers.filter((n) => !dead.has(n) && n !== i.primary);
    if (!live.length) {
      degraded.push(
        i.readers.length && i.readers.every((n) => dead.has(n))
          ? `reader record names no live node (${i.readers.join(', ')})`
          : `reader record names no replica: it points at the primary ${i.primary}`,
      );
    }
  }
  if (i.rejoinFailure) degraded.push(`rejoin failed: ${i.rejoinFailure}`);
  return {
    degraded,
    reason: degraded.length ? `committed-degraded: ${degraded.join('; ')}` : 'committed',
  };
}

/** Quorum-sync re-point grace before one replica's stream is enough (ms). @default 3000 */
export const REPOINT_QUORUM_GRACE_MS = 3000;

/**
 * Why RepointReplicas may stop waiting for `replica`, or null to keep waiting (finding 4). In sync mode (ANY 1)
 * the new primary commits as soon as one standby streams from it, so once another of the run's replicas streams,
 * waiting out this one's full timeout only holds writes back: after a short grace (it may just be slower) it is
 * left to the rejoin and reported in the commit's degraded list. In async mode nothing waits on a standby, but
 * the wait is the only proof it follows, so it runs to its bound.
 */
export function repointEnough(i: {
  readonly mode: 'sync' | 'async';
  readonly replica: string;
  readonly elapsedMs: number;
  /** The run's other replicas that stream from the new primary now. */
  readonly othersStreaming: readonly string[];
  readonly graceMs?: number;
}): string | null {
  if (i.mode !== 'sync' || !i.othersStreaming.length) return null;
  const grace = i.graceMs ?? REPOINT_QUORUM_GRACE_MS;
  if (i.elapsedMs < grace) return null;
  return `quorum met: ${i.othersStreaming.join(', ')} already stream(s) from the new primary; ${i.replica} not streaming after ${i.elapsedMs} ms is left to the rejoin`;
}

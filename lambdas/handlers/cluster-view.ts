import { lastSeenPrimaryLsn } from '../core/rpo';
import type { ClusterView, NodeView } from '../core/types';
import type { NodeEndpoint, ProbeResult } from '../ports/postgres-port';
import type { RegisteredNode, StoredVote } from '../ports/store-port';
import type { Deps } from './deps';

/** How the controller (not a probe AZ) reaches a node. */
export function endpointOf(n: RegisteredNode): NodeEndpoint {
  return { name: n.name, host: n.host, port: n.port };
}

/** Where replicas stream from a node when it is primary. */
export function replicationEndpointOf(n: RegisteredNode): { host: string; port: number } {
  return { host: n.replicationHost ?? n.host, port: n.replicationPort ?? n.port };
}

/** Finds a registered node; a clear error when it is not registered. */
export function findNode(nodes: readonly RegisteredNode[], name: string): RegisteredNode {
  const n = nodes.find((x) => x.name === name);
  if (!n) throw new Error(`node ${name} is not in the registry (known: ${nodes.map((x) => x.name).join(', ')})`);
  return n;
}

// Decided in core (lambdas/core/rpo.ts); re-exported for the handlers that read them from here.
export { lastSeenPrimaryLsn, primaryLsnRate } from '../core/rpo';

/**
 * One immutable view of the cluster for the core: the controller's own fresh
 * probe of every node (role, LSNs, streaming, reachability) and, from the probe
 * AZs' votes, when each replica last streamed and the old primary's last LSN.
 */
export async function buildClusterView(
  d: Deps,
  opts: { primary: string; nodes: readonly RegisteredNode[]; votes: readonly StoredVote[] },
): Promise<{ view: ClusterView; probes: Record<string, ProbeResult> }> {
  const now = d.now();
  // Each node stays paired with its own probe, so no lookup by name can miss.
  const probed = await Promise.all(opts.nodes.map(async (n) => ({ n, p: await d.pg.probe(endpointOf(n)) })));
  const probes = Object.fromEntries(probed.map(({ p }) => [p.node, p]));
  const nodes: NodeView[] = probed.map(({ n, p }) => {
    // Reachability for candidacy is the controller's own fresh probe: the controller is what must reach a node to
    // promote it. The probe AZs' votes decide whether the primary is down (quorum), not who can take over.
    const reachableFrom = { controller: p.ok };
    const lastStreamedAt =
      Math.max(0, ...opts.votes.map((v) => v.nodes?.[n.name]?.lastStreamedAt ?? 0).filter((x) => x > 0)) || null;
    return {
      name: n.name,
      az: n.az,
      // The adapter always names the role of a node that answered; a result without one says nothing about it.
      role: p.ok ? (p.role ?? 'unknown') : 'unknown',
      timeline: p.ok ? (p.timeline ?? null) : null,
      currentLsn: p.currentLsn ?? null,
      receiveLsn: p.receiveLsn ?? null,
      replayLsn: p.replayLsn ?? null,
      replayPaused: Boolean(p.replayPaused),
      streaming: Boolean(p.streaming),
      lastStreamedAt: p.streaming ? now : lastStreamedAt,
      reachableFrom,
      tags: { noFailover: n.noFailover },
      registryStatus: n.status,
    };
  });
  const lastSeenAt = Math.max(0, ...opts.votes.map((v) => v.nodes?.[opts.primary]?.lastSeenAt ?? 0));
  const primaryProbe = probes[opts.primary];
  return {
    view: {
      cluster: d.config.PGQ_CLUSTER,
      primary: opts.primary,
      nodes,
      probeAzs: ['controller'],
      primaryLastSeenLsn: primaryProbe?.ok
        ? (primaryProbe.currentLsn ?? null)
        : lastSeenPrimaryLsn(opts.votes, opts.primary),
      ...(lastSeenAt && !primaryProbe?.ok ? { primaryLastSeenAt: lastSeenAt } : {}),
      now,
    },
    probes,
  };
}

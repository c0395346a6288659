import {
  type ClusterView,
  type ControllerSettings,
  DEFAULT_SETTINGS,
  type Lease,
  type NodeView,
  type Vote,
} from '../../lambdas/core';

/** Fixed clock for every scenario. */
export const NOW = 1_700_000_000_000;
export const AZS = ['az-a', 'az-b', 'az-c'] as const;
export const S: ControllerSettings = DEFAULT_SETTINGS;

/** A fresh vote from one AZ about pg1. */
export function vote(az: string, over: Partial<Vote> = {}): Vote {
  return { az, seq: 10, observedAt: NOW - 500, primary: 'pg1', primaryOk: true, consecutiveFailures: 0, ...over };
}

/** A fresh "down" vote from one AZ about pg1, past failuresToDown. */
export function downVote(az: string, over: Partial<Vote> = {}): Vote {
  return vote(az, { primaryOk: false, consecutiveFailures: S.failuresToDown, ...over });
}

const everywhere = Object.fromEntries(AZS.map((a) => [a, true]));

/** A node; defaults make a healthy streaming replica on timeline 1. */
export function node(name: string, over: Partial<NodeView> = {}): NodeView {
  return {
    name,
    az: `az-${name.slice(-1)}`,
    role: 'replica',
    timeline: 1,
    currentLsn: null,
    receiveLsn: '0/3000000',
    replayLsn: '0/3000000',
    streaming: true,
    lastStreamedAt: NOW,
    reachableFrom: everywhere,
    tags: {},
    ...over,
  };
}

/** pg1 primary (or dead), pg2 and pg3 replicas, pg1 last seen at 0/3000000. */
export function cluster(over: Partial<ClusterView> = {}, nodes?: NodeView[]): ClusterView {
  return {
    cluster: 'lab',
    primary: 'pg1',
    probeAzs: AZS,
    primaryLastSeenLsn: '0/3000000',
    now: NOW,
    nodes: nodes ?? [
      node('pg1', { role: 'primary', currentLsn: '0/3000000', receiveLsn: null, replayLsn: null, streaming: false }),
      node('pg2'),
      node('pg3'),
    ],
    ...over,
  };
}

/** The primary died: unreachable everywhere; the replicas' streams stopped a second ago. */
export function clusterWithDeadPrimary(replicas: Partial<Record<'pg2' | 'pg3', Partial<NodeView>>> = {}): ClusterView {
  const nowhere = Object.fromEntries(AZS.map((a) => [a, false]));
  return cluster({}, [
    node('pg1', {
      role: 'unknown',
      currentLsn: null,
      receiveLsn: null,
      replayLsn: null,
      streaming: false,
      reachableFrom: nowhere,
    }),
    node('pg2', { streaming: false, lastStreamedAt: NOW - 1000, ...replicas.pg2 }),
    node('pg3', { streaming: false, lastStreamedAt: NOW - 1000, ...replicas.pg3 }),
  ]);
}

/** A steady lease at epoch 7 naming pg1. */
export function lease(over: Partial<Lease> = {}): Lease {
  return {
    epoch: 7,
    state: 'steady',
    primary: 'pg1',
    holder: null,
    leaseUntil: 0,
    reason: 'baseline',
    updatedAt: NOW - 60000,
    lastFailoverAt: null,
    ...over,
  };
}

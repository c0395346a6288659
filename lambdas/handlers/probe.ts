import type { Context } from 'aws-lambda';
import { decideFailover, type FailoverDecision } from '../core/failover-decision';
import { escalateLease } from '../core/lease';
import { lsnDiff } from '../core/lsn';
import { voterAzs } from '../core/quorum';
import { walRate } from '../core/rpo';
import { asReason } from '../core/run-checks';
import { nextVote, readPrimary } from '../core/vote';
import type { NodeEndpoint, ProbeResult } from '../ports/postgres-port';
import type { NodeSeen, RegisteredNode, StoredVote } from '../ports/store-port';
import { type Deps, deps as defaultDeps } from './deps';
import { advanceEpisode, watchRound } from './probe-watch';

/** What one probe round saw and decided. */
export interface RoundOutcome {
  vote: StoredVote | undefined;
  decision: FailoverDecision | { action: 'impaired'; reason: string };
}

/** Where this AZ's probe connects to a node: its private address, or the lab's per-AZ gate path. */
function addressFor(d: Deps, n: RegisteredNode): NodeEndpoint {
  const o = d.config.PGQ_NODE_ADDRESS_OVERRIDES?.[n.name];
  if (!o) return { name: n.name, host: n.host, port: n.port };
  // The config schema admits only `host:port` with one colon.
  const colon = o.indexOf(':');
  return { name: n.name, host: o.slice(0, colon), port: Number(o.slice(colon + 1)) };
}

function seen(p: ProbeResult, prev: NodeSeen | undefined, now: number): NodeSeen {
  const isPrimary = p.ok && p.role === 'primary';
  return {
    ok: p.ok,
    ...(p.role ? { role: p.role } : {}),
    ...(p.timeline !== undefined ? { timeline: p.timeline } : {}),
    currentLsn: p.currentLsn ?? null,
    receiveLsn: p.receiveLsn ?? null,
    replayLsn: p.replayLsn ?? null,
    streaming: Boolean(p.streaming),
    // A dead primary stops every stream: "streamed recently" is what candidacy needs, so carry it forward.
    lastStreamedAt: p.streaming ? now : (prev?.lastStreamedAt ?? null),
    syncStandbyMissing: Boolean(p.syncStandbyMissing),
    // The primary's last LSN survives its death in the vote: RPO accounting needs it.
    lastSeenLsn: isPrimary ? (p.currentLsn ?? null) : (prev?.lastSeenLsn ?? null),
    lastSeenAt: isPrimary ? now : (prev?.lastSeenAt ?? null),
    lsnRate: isPrimary ? walRate(p.currentLsn ?? null, prev, now) : (prev?.lsnRate ?? null),
  };
}

/**
 * One probe round for one AZ: probe every node (never through DNS), vote with
 * a forward-only sequence, publish metrics, and, when this AZ sees the primary
 * down, ask the core whether the quorum is complete and start the state
 * machine if so. Any store error means do nothing this round (fail static).
 * `probeAzs` orders the heartbeat slots; the quorum's voters come from voterAzs over the votes the round reads.
 */
export async function probeRound(
  d: Deps,
  az: string,
  prev: StoredVote | undefined,
  probeAzs: readonly string[],
): Promise<RoundOutcome> {
  let lease: Awaited<ReturnType<Deps['store']['getLease']>>;
  let nodes: RegisteredNode[];
  try {
    [lease, nodes] = await Promise.all([d.store.getLease(), d.store.listNodes()]);
  } catch (err) {
    return {
      vote: prev,
      decision: { action: 'impaired', reason: `store unavailable, no vote: ${(err as Error).message}` },
    };
  }
  const now = d.now();
  const results = await Promise.all(
    nodes.map((n) => d.pg.probe(addressFor(d, n), { heartbeatId: probeAzs.indexOf(az) + 1, writer: az })),
  );
  const byName = Object.fromEntries(results.map((r) => [r.node, r]));
  const primaryResult = byName[lease.primary];
  const reading = readPrimary(lease.primary, primaryResult);
  const primaryOk = reading.primaryOk;
  const samePrimary = prev?.primary === lease.primary ? prev : undefined;
  const vote: StoredVote = {
    ...nextVote(prev, {
      az,
      primary: lease.primary,
      primaryOk,
      now,
      ...(reading.unknown !== undefined ? { unknown: reading.unknown } : {}),
    }),
    nodes: Object.fromEntries(results.map((r) => [r.node, seen(r, samePrimary?.nodes?.[r.node], now)])),
  };
  try {
    if (!(await d.store.putVote(vote))) {
      // Another invocation of this AZ's probe (an overlapping schedule) stored a newer vote: it decides, not us.
      const stored = (await d.store.getVotes()).find((v) => v.az === az);
      return {
        vote: stored ?? prev,
        decision: {
          action: 'impaired',
          reason: `vote ${vote.seq} superseded by seq ${stored?.seq ?? '?'} from ${az}: no decision`,
        },
      };
    }
  } catch (err) {
    return { vote, decision: { action: 'impaired', reason: `vote not stored: ${(err as Error).message}` } };
  }
  // A primary this round could not judge publishes nothing: a 0 would count toward the backstop alarm's quorum.
  if (reading.unknown === undefined) await d.metrics.primaryReachable(az, primaryOk);
  // Concurrent with the failover decision below: paging checks must never delay a failover.
  const watching = watchRound(d, az, lease, results, (name) => {
    const n = nodes.find((x) => x.name === name);
    return n ? addressFor(d, n) : undefined;
  })
    .then((note) => {
      if (note) d.log.info('probe watch', { az, note });
    })
    .catch((err: Error) => d.log.warn('probe watch failed', { az, error: err.message }));
  if (primaryOk && primaryResult) {
    await watching;
    await d.metrics.syncStandbyMissing(Boolean(primaryResult.syncStandbyMissing));
    for (const r of results) {
      if (r.ok && r.role === 'replica' && r.replayLsn && primaryResult.currentLsn) {
        await d.metrics.replicaLag(r.node, Math.max(0, Number(lsnDiff(primaryResult.currentLsn, r.replayLsn))));
      }
    }
    return { vote, decision: { action: 'no-action', reason: `${lease.primary} reachable from ${az}` } };
  }
  let votes: StoredVote[];
  try {
    votes = await d.store.getVotes();
  } catch (err) {
    await watching;
    return {
      vote,
      decision: { action: 'impaired', reason: `votes unreadable, no decision: ${(err as Error).message}` },
    };
  }
  // The voters as ConfirmQuorum counts them from the same votes: a start it would release is no start.
  const voters = voterAzs(d.config.PGQ_PROBE_AZS?.split(','), votes);
  const decision = decideFailover({ votes, lease, probeAzs: voters, now: d.now(), settings: d.config.settings });
  if (decision.action === 'start-failover' && d.starter) {
    const s = await d.starter.start(
      // ValidateInput refuses an unbounded reason: a long quorum explanation must never block the failover.
      { mode: 'failover', cluster: d.config.PGQ_CLUSTER, reason: asReason(decision.reason) },
      decision.nextEpoch,
      lease.updatedAt,
    );
    await watching;
    return {
      vote,
      decision: {
        ...decision,
        reason: `${decision.reason}; execution ${s.name} ${s.alreadyStarted ? 'already started' : 'started'}${
          s.replaced ? ` (after ${s.replaced.join(', ')} ended without taking the lease)` : ''
        }`,
      },
    };
  }
  if (decision.action === 'needs-attention') {
    const t = await d.store
      .transitionLease((l) =>
        l.epoch === lease.epoch
          ? escalateLease(l, { reason: decision.reason, now: d.now() })
          : { ok: false, reason: 'lease moved' },
      )
      .catch(() => undefined);
    // One page per escalation: only the probe whose lease write landed, and only if its claim on the lease
    // version it escalated lands too (a re-sent write or a second round on the same lease never pages again).
    if (t?.ok && t.changed) {
      await d.metrics.needsAttention();
      await advanceEpisode(
        d,
        (await d.store.getEpisodes().catch(() => [])).find((e) => e.kind === 'escalation'),
        {
          kind: 'escalation',
          active: true,
          node: `epoch ${lease.epoch} at ${lease.updatedAt}`,
          detail: decision.reason,
          now: d.now(),
        },
        () => [`pgquorum ${d.config.PGQ_CLUSTER}: needs attention`, decision.reason],
      );
    }
  }
  await watching;
  return { vote, decision };
}

/** The probe AZs by heartbeat slot: configured, or one per AZ the nodes live in (the voter rule, over the nodes). */
function probeAzsOf(d: Deps, nodes: readonly RegisteredNode[]): string[] {
  return voterAzs(d.config.PGQ_PROBE_AZS?.split(','), nodes);
}

/** Event of a probe invocation: tests bound it with `rounds`. */
export interface ProbeEvent {
  rounds?: number;
}

/**
 * Lambda entry point: loops every probeIntervalMs until just before the next
 * scheduled start (PGQ_PROBE_RUN_MS, bounded by the remaining invocation time).
 */
export async function runProbe(
  ev: ProbeEvent = {},
  ctx?: Pick<Context, 'getRemainingTimeInMillis'>,
  getDeps = defaultDeps,
) {
  const d = await getDeps();
  const az = d.config.PGQ_AZ;
  if (!az) throw new Error('PGQ_AZ is required for the probe');
  const interval = d.config.settings.probeIntervalMs;
  const stopAt =
    Date.now() +
    Math.min(d.config.PGQ_PROBE_RUN_MS, (ctx?.getRemainingTimeInMillis() ?? Number.POSITIVE_INFINITY) - 3000);
  let prev: StoredVote | undefined = (await d.store.getVotes().catch(() => [])).find((v) => v.az === az);
  let probeAzs: string[] = [];
  let rounds = 0;
  let lastAction = '';
  for (;;) {
    const t0 = Date.now();
    if (!probeAzs.length) probeAzs = probeAzsOf(d, await d.store.listNodes().catch(() => []));
    const out = await probeRound(d, az, prev, probeAzs);
    await d.metrics.flush();
    prev = out.vote ?? prev;
    rounds++;
    // One line per change of decision, not per second: the decision and its reason are what an operator reads.
    if (out.decision.action !== lastAction || out.decision.action !== 'no-action') {
      d.log.info('probe decision', { az, action: out.decision.action, reason: out.decision.reason, seq: prev?.seq });
      lastAction = out.decision.action;
    }
    if ((ev.rounds && rounds >= ev.rounds) || Date.now() + interval > stopAt) break;
    await new Promise((r) => setTimeout(r, Math.max(0, interval - (Date.now() - t0))));
  }
  return { az, rounds, lastSeq: prev?.seq };
}

/** The Lambda handler. */
export const handler = (ev: ProbeEvent, ctx: Context) => runProbe(ev, ctx);

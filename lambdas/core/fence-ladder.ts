import type { ControllerSettings, UnreachableHostPolicy } from './settings';
import { unreachableHostPolicy } from './settings';

/**
 * The fence ladder (docs/design.md section 4), decided one rung at a time. Ingress is always revoked first; then the
 * fence stops PostgreSQL through SSM within a short bound. When the host cannot be reached for that, the
 * configured policy decides: fence by quorum (sync mode: an ANY 1 primary with no standby can acknowledge
 * nothing), STONITH through EC2, or an operator. Where the policy is quorum the fence does not wait for the stop
 * by default (`fence.awaitHostStop`): the stop is sent and the quorum fence is the rung at once. Every rung returns
 * the reason the timeline records.
 */

/** A rung of the ladder. */
export type FenceRung = 'stop-postgres' | 'quorum' | 'stop-instance' | 'operator';

/** What the SSM stop of PostgreSQL came to. */
export type HostStopOutcome =
  /** The script ran: the postmaster is stopped. */
  | { readonly kind: 'stopped'; readonly detail: string }
  /** Not delivered: `InvalidInstanceId`, not delivered within the bound, or the instance is not running. */
  | { readonly kind: 'unreachable'; readonly detail: string }
  /** Delivered but it failed, or did not finish within the bound: PostgreSQL may still run. */
  | { readonly kind: 'failed'; readonly detail: string }
  /** Sent and not awaited (`fence.awaitHostStop` false): it stops PostgreSQL whenever the agent picks it up. */
  | { readonly kind: 'sent'; readonly detail: string };

/** EC2 states in which nothing on the instance runs any more (or soon will not). */
const GONE = new Set(['stopped', 'stopping', 'terminated', 'shutting-down']);

/** True when EC2 reports the instance stopped, stopping or terminated: no command will reach it. */
export function instanceGone(state: string | undefined): boolean {
  return state !== undefined && GONE.has(state);
}

/**
 * Whether the host is already known to be beyond a host command, before one is sent (the ladder's "learn early"):
 * EC2 reports the instance stopped or terminated, or SSM reports its agent `ConnectionLost` (it has missed its
 * health reports: a command would sit Pending until the bound). Returns why, or null when a command may reach it.
 * An unknown state (an API that did not answer) is no evidence: the command is tried.
 */
export function knownUnreachable(v: {
  instanceId: string;
  instanceState?: string;
  agentStatus?: string;
}): string | null {
  if (instanceGone(v.instanceState)) return `EC2 reports ${v.instanceId} ${v.instanceState}`;
  if (v.agentStatus === 'ConnectionLost') return `SSM reports the agent on ${v.instanceId} ConnectionLost`;
  return null;
}

/**
 * Whether the quorum fence can stand in for a stop that was sent and not awaited: only when every other node
 * answered its detach. One that did not may still stream from the old primary (a partition that kept them together),
 * which would let an ANY 1 primary acknowledge writes, so the fence waits for the stop after all.
 */
export function quorumStandsIn(v: { node: string; notDetached: readonly string[] }): {
  readonly standsIn: boolean;
  readonly reason: string;
} {
  if (!v.notDetached.length) {
    return {
      standsIn: true,
      reason: `every other node detached from ${v.node}: the quorum fence holds without the stop`,
    };
  }
  const who = v.notDetached.join(', ');
  return {
    standsIn: false,
    reason: `${who} did not answer the detach, so the quorum fence cannot be proven: waiting for the stop of ${v.node}`,
  };
}

/** What the fence knows after revoking ingress and trying the SSM stop. */
export interface FenceLadderView {
  readonly node: string;
  readonly instanceId: string;
  readonly settings: Pick<ControllerSettings, 'replicationMode' | 'fence'> &
    Partial<Pick<ControllerSettings, 'onNoSyncStandby'>>;
  readonly hostStop: HostStopOutcome;
  /** EC2's state of the instance, when it answered. */
  readonly instanceState?: string;
}

/** The next rung, with its reason. `policy` is the unreachable-host policy in effect. */
export interface FenceLadderDecision {
  readonly rung: FenceRung;
  readonly policy: UnreachableHostPolicy;
  /** stop-instance: EC2 already reports it stopped (no StopInstances call needed, it is proven by VerifyFence). */
  readonly alreadyStopped?: boolean;
  readonly reason: string;
}

/** The sentence an operator gets when the ladder runs out: which node, what was tried, what to run next. */
export function operatorSentence(v: { node: string; instanceId: string; tried: string }): string {
  return (
    `${v.node} (${v.instanceId}) could not be fenced automatically: ${v.tried}. ` +
    `Make sure it cannot accept writes (stop the instance: aws ec2 stop-instances --force --instance-ids ${v.instanceId}), ` +
    `then run \`pgquorum failover --to <replica> --force\` or, once it is back, \`pgquorum resume --primary ${v.node}\``
  );
}

/** Decides the rung after the SSM stop. */
export function fenceLadder(v: FenceLadderView): FenceLadderDecision {
  const policy = unreachableHostPolicy(v.settings);
  if (v.hostStop.kind === 'stopped') {
    return { rung: 'stop-postgres', policy, reason: `ingress revoked and PostgreSQL stopped: ${v.hostStop.detail}` };
  }
  const why =
    v.hostStop.kind === 'unreachable'
      ? `host unreachable (${v.hostStop.detail})`
      : v.hostStop.kind === 'sent'
        ? `stop of PostgreSQL sent, not awaited (${v.hostStop.detail})`
        : `PostgreSQL not confirmed stopped (${v.hostStop.detail})`;
  if (policy === 'quorum') {
    if (v.settings.replicationMode !== 'sync') {
      // The config refuses this; a hand-edited PGQ_SETTINGS must still never fence async by quorum.
      return {
        rung: 'operator',
        policy,
        reason: operatorSentence({ ...v, tried: `${why}; quorum fencing refused in async mode` }),
      };
    }
    return {
      rung: 'quorum',
      policy,
      reason: `${why}: fencing by quorum (sync mode: detach every replica from ${v.node} and prove none streams; an ANY 1 primary with no standby acknowledges nothing)`,
    };
  }
  if (policy === 'stop-instance') {
    if (v.instanceState === 'stopped') {
      return {
        rung: 'stop-instance',
        policy,
        alreadyStopped: true,
        reason: `${why}: EC2 reports ${v.instanceId} stopped`,
      };
    }
    if (v.instanceState === 'terminated') {
      return {
        rung: 'stop-instance',
        policy,
        alreadyStopped: true,
        reason: `${why}: EC2 reports ${v.instanceId} terminated`,
      };
    }
    return {
      rung: 'stop-instance',
      policy,
      reason: `${why}: stopping ${v.instanceId} (StopInstances with Force, waiting up to ${v.settings.fence.stopInstanceTimeoutSec} s for stopped)`,
    };
  }
  return {
    rung: 'operator',
    policy,
    reason: operatorSentence({ ...v, tried: `ingress revoked; ${why}; policy operator` }),
  };
}

/** After StopInstances: the instance is proven stopped, or the ladder ends with an operator. */
export function afterStopInstance(v: {
  node: string;
  instanceId: string;
  instanceState: string | undefined;
  waitedSec: number;
  tried: string;
}): { readonly ok: boolean; readonly reason: string } {
  if (v.instanceState === 'stopped' || v.instanceState === 'terminated') {
    return { ok: true, reason: `${v.instanceId} is ${v.instanceState} (STONITH)` };
  }
  return {
    ok: false,
    reason: operatorSentence({
      ...v,
      tried: `${v.tried}; StopInstances with Force sent but EC2 reports ${v.instanceState ?? 'no state'} after ${v.waitedSec} s`,
    }),
  };
}

/** The fenced node's condition as a notification states it. */
export interface FencedNodeCondition {
  readonly node: string;
  readonly instanceId: string;
  /** undefined: not known (EC2 did not answer). */
  readonly ingressRevoked?: boolean;
  readonly postgresStopped?: boolean;
  readonly instanceState?: string;
}

/** One sentence: ingress revoked or not, PostgreSQL stopped or not, the instance's EC2 state. */
export function describeFencedNode(c: FencedNodeCondition): string {
  const ingress =
    c.ingressRevoked === undefined ? 'ingress unknown' : c.ingressRevoked ? 'ingress revoked' : 'ingress NOT revoked';
  const pg =
    c.postgresStopped === undefined
      ? 'PostgreSQL not confirmed stopped'
      : c.postgresStopped
        ? 'PostgreSQL stopped'
        : 'PostgreSQL NOT stopped';
  return `${c.node}: ${ingress}, ${pg}, instance ${c.instanceId} ${c.instanceState ?? 'state unknown'}`;
}

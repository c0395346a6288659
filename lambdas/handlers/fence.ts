import { FatalError, HostUnreachableError } from '../core/errors';
import {
  afterStopInstance,
  fenceLadder,
  type HostStopOutcome,
  knownUnreachable,
  quorumStandsIn,
} from '../core/fence-ladder';
import { awaitsHostStop } from '../core/settings';
import type { RegisteredNode } from '../ports/store-port';
import { endpointOf, findNode, replicationEndpointOf } from './cluster-view';
import type { Deps } from './deps';
import { record, task } from './task';

/** The ladder ran out: an operator must fence the node (the run aborts into needs-attention with this sentence). */
export class FenceNeedsOperatorError extends FatalError {}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Steady poll period of DescribeInstances while waiting for `stopped` (ms). */
const INSTANCE_POLL_MS = 1000;

/** EC2's view of the instance, best effort: an EC2 error must not stop the fence from trying SSM. */
async function instanceStateOf(d: Deps, instanceId: string): Promise<string | undefined> {
  return d.fence.instanceState(instanceId).catch(() => undefined);
}

/** The quorum fence's detach of every other node: a line each, and the nodes that did not answer. */
interface Detached {
  readonly lines: string[];
  readonly missing: string[];
}

async function detachOthers(d: Deps, node: RegisteredNode, nodes: readonly RegisteredNode[]): Promise<Detached> {
  const oldRepl = replicationEndpointOf(node);
  const missing: string[] = [];
  const lines = await Promise.all(
    nodes
      .filter((n) => n.name !== node.name)
      .map(async (n) => {
        try {
          const was = await d.pg.detachUpstream(endpointOf(n));
          return `${n.name} detached${was ? ` (streamed from ${was === `${oldRepl.host}:${oldRepl.port}` ? node.name : was})` : ''}`;
        } catch (err) {
          missing.push(n.name);
          return `${n.name} not detached: ${(err as Error).message}`;
        }
      }),
  );
  return { lines, missing: missing.sort() };
}

/** A stop that threw: the host could not be reached, or the stop was not confirmed. */
function notStopped(err: unknown): HostStopOutcome {
  const e = err as Error;
  return err instanceof HostUnreachableError
    ? { kind: 'unreachable', detail: e.message }
    : { kind: 'failed', detail: `${e.name}: ${e.message}` };
}

/**
 * The fence ladder (docs/design.md section 4; decided in lambdas/core/fence-ladder.ts), one rung at a time, each
 * recorded with its reason: revoke the node's security-group ingress (rules saved for the rejoin); stop
 * PostgreSQL through SSM within a short bound (that also severs the sessions connection tracking keeps
 * alive); if the host cannot be reached, the unreachable-host policy: fence by quorum, STONITH, or an operator.
 */
export const handler = task(
  'fence',
  { needs: ['epoch', 'oldPrimary'], policy: 'holder', requires: ['candidate'] },
  async (state, d) => {
    const nodes = await d.store.listNodes();
    const node = findNode(nodes, state.oldPrimary);
    const settings = d.config.settings;
    const { revokedRules } = await d.fence.revokeIngress(node, state.epoch);
    await record(d, state, 'fence-revoke', `revoked ${revokedRules} ingress rule(s) on ${node.securityGroupId}`);

    // Learn early that the host is gone: EC2 or SSM's agent status says so before a command would time out.
    const [before, agentStatus] = await Promise.all([
      instanceStateOf(d, node.instanceId),
      d.host.agentStatus ? d.host.agentStatus(node).catch(() => undefined) : Promise.resolve(undefined),
    ]);
    const gone = knownUnreachable({
      instanceId: node.instanceId,
      ...(before !== undefined ? { instanceState: before } : {}),
      ...(agentStatus !== undefined ? { agentStatus } : {}),
    });
    const stopBoundMs = settings.fence.hostStopTimeoutSec * 1000;
    let hostStop: HostStopOutcome;
    let stopCommandId: string | undefined;
    if (gone) {
      hostStop = { kind: 'unreachable', detail: gone };
    } else if (!awaitsHostStop(settings)) {
      // The quorum fence stands in for the stop: send it (it severs the sessions connection tracking keeps whenever
      // the agent picks it up) and go on. SSM keeps it queued as long as the awaited stop would have waited.
      try {
        stopCommandId = await d.host.send(node, 'stop-postgres-immediate', {}, { deliveryTimeoutMs: stopBoundMs });
        hostStop = { kind: 'sent', detail: `SSM command ${stopCommandId}` };
      } catch (err) {
        hostStop = notStopped(err);
      }
    } else {
      try {
        const severed = await d.host.severConnections(node, { timeoutMs: stopBoundMs });
        hostStop = {
          kind: 'stopped',
          detail: `postgres stopped immediately${severed >= 0 ? `, ${severed} tracked connection(s) closed` : ''}`,
        };
      } catch (err) {
        hostStop = notStopped(err);
      }
    }
    // Sent and not awaited: the quorum fence stands in for the stop only if every other node answered its detach (one
    // that did not may still stream from the old primary, and VerifyFence would refuse). Else wait for the stop after
    // all, as the ladder without the quorum would.
    let detached: Detached | undefined;
    let detachRecorded = false;
    if (hostStop.kind === 'sent' && stopCommandId) {
      detached = await detachOthers(d, node, nodes);
      const stand = quorumStandsIn({ node: node.name, notDetached: detached.missing });
      if (!stand.standsIn) {
        await record(d, state, 'fence-quorum-detach', `${detached.lines.join('; ')}; ${stand.reason}`);
        detachRecorded = true;
        try {
          await d.host.wait(node, 'stop-postgres-immediate', stopCommandId, { timeoutMs: stopBoundMs });
          hostStop = { kind: 'stopped', detail: 'postgres stopped immediately' };
        } catch (err) {
          hostStop = notStopped(err);
        }
      }
    }
    // A stop that was not even tried to the end may have met a host that has gone since: ask EC2 again.
    const instanceState =
      hostStop.kind === 'stopped' || hostStop.kind === 'sent' ? before : await instanceStateOf(d, node.instanceId);
    const decision = fenceLadder({ node: node.name, instanceId: node.instanceId, settings, hostStop, instanceState });

    if (decision.rung === 'stop-postgres') {
      await record(d, state, 'fence-sever', `${node.name}: ${hostStop.detail}`);
      return { ...state, fence: { rung: decision.rung, postgresStopped: true, reason: decision.reason } };
    }
    await record(d, state, `fence-${decision.rung}`, decision.reason);

    if (decision.rung === 'operator') throw new FenceNeedsOperatorError(decision.reason);

    if (decision.rung === 'quorum') {
      // Detach every replica that can be reached (unless done above); VerifyFence then proves none streams from it.
      const done = detached ?? (await detachOthers(d, node, nodes));
      if (!detachRecorded) await record(d, state, 'fence-quorum-detach', done.lines.join('; '));
      return {
        ...state,
        fence: {
          rung: decision.rung,
          postgresStopped: false,
          reason: decision.reason,
          // Sent and not confirmed: the rejoin waits for it before its rewind reaches the same host.
          ...(stopCommandId ? { stopCommandId } : {}),
        },
      };
    }

    // stop-instance (STONITH).
    const boundMs = settings.fence.stopInstanceTimeoutSec * 1000;
    const t0 = d.now();
    let seen = instanceState;
    if (!decision.alreadyStopped) {
      await d.fence.stopInstance(node.instanceId);
      for (;;) {
        seen = await instanceStateOf(d, node.instanceId);
        if (seen === 'stopped' || seen === 'terminated' || d.now() - t0 >= boundMs) break;
        await sleep(INSTANCE_POLL_MS);
      }
    }
    const after = afterStopInstance({
      node: node.name,
      instanceId: node.instanceId,
      instanceState: seen,
      waitedSec: Math.round((d.now() - t0) / 1000),
      tried: `ingress revoked; ${decision.reason}`,
    });
    if (!after.ok) {
      await record(d, state, 'fence-operator', after.reason);
      throw new FenceNeedsOperatorError(after.reason);
    }
    await record(d, state, 'fence-stop-instance-done', after.reason);
    return {
      ...state,
      fence: {
        rung: decision.rung,
        postgresStopped: true,
        instanceState: seen,
        reason: `${decision.reason}; ${after.reason}`,
      },
    };
  },
);

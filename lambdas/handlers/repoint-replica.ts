import { repointEnough } from '../core/commit-health';
import { parsePassfileState, type RepointNextInput, repointNext } from '../core/repoint-passfile';
import { endpointOf, findNode, replicationEndpointOf } from './cluster-view';
import { hostPassfile } from './config';
import { NodeUnreachableError } from './deps';
import { hostRoles, hostTlsKeywords } from './follow';
import { requireNewPrimary } from './new-primary';
import { record, StepRefusedError, task } from './task';

/**
 * Bounds of the passfile fallback (core/repoint-passfile): the host command, its delivery (a lost host never picks
 * it up), and the second wait for the stream (a walreceiver retries every wal_retrieve_retry_interval, 5 s by
 * default). With the first attempt's 20 s they stay inside the function's 60 s.
 */
export const REPOINT_PASSFILE_BOUNDS = { hostMs: 15000, deliveryMs: 10000, retryMs: 12000 } as const;

/**
 * One Map iteration: re-points a replica at the new primary. A failure is
 * recorded, not thrown: by now the new primary is promoted and named by DNS,
 * so one unreachable replica must not abort the failover (it needs a rejoin).
 * The exception is the new primary itself failing (it no longer answers as a
 * primary): that is the candidate's failure, and Replan chooses again.
 */
export const handler = task(
  'repoint-replica',
  { needs: ['candidate'], policy: 'holder', requires: ['candidate', 'promoted'] },
  async (state, d, ev) => {
    const name = ev.item;
    if (!name)
      throw new StepRefusedError('repoint-replica refused: the event has no item (the replica); nothing changed');
    // Only the run's own replicas: never the promoted node or the one it replaced.
    if (!state.replicas?.includes(name) || name === state.candidate || name === state.oldPrimary) {
      throw new StepRefusedError(`repoint-replica refused: ${name} is not one of this run's replicas; nothing changed`);
    }
    const nodes = await d.store.listNodes();
    const replica = findNode(nodes, name);
    const primary = findNode(nodes, state.candidate);
    const upstream = replicationEndpointOf(primary);
    const others = state.replicas.filter((r) => r !== name);
    let quorumMet: string | null = null;
    const stopWaiting = async (elapsedMs: number): Promise<string | null> => {
      if (!others.length || d.config.settings.replicationMode !== 'sync') return null;
      const p = await d.pg.probe(endpointOf(primary));
      const streaming = (p.standbys ?? [])
        .filter((s) => others.includes(s.name) && s.state === 'streaming')
        .map((s) => s.name);
      quorumMet = repointEnough({
        mode: d.config.settings.replicationMode,
        replica: name,
        elapsedMs,
        othersStreaming: streaming,
      });
      return quorumMet;
    };
    let ok = true;
    let detail = `streams from ${primary.name} on timeline ${state.newTimeline ?? '?'}`;
    const passfile = hostPassfile(d.config);
    const target = {
      ...upstream,
      user: d.repl.user,
      passfile,
      slotName: replica.name,
      tlsKeywords: hostTlsKeywords(d, primary),
    };
    try {
      await d.pg.repoint(endpointOf(replica), endpointOf(primary), target, { timeoutMs: 20000, stopWaiting });
    } catch (err) {
      // Is it the candidate that failed? A primary that does not answer as one is the run's problem, not the replica's.
      await requireNewPrimary(d, state, primary, 'repoint', `while ${name} was re-pointed to it`);
      // The replica's host may lack its passfile: core decides whether to ask the host and try once more.
      let input: RepointNextInput = {
        replica: name,
        primary: primary.name,
        passfile,
        ...(state.newTimeline !== undefined ? { timeline: state.newTimeline } : {}),
        failure: {
          kind: err instanceof NodeUnreachableError ? 'unreachable' : quorumMet ? 'quorum-met' : 'not-streaming',
          message: (err as Error).message,
        },
      };
      for (let next = repointNext(input); ; next = repointNext(input)) {
        if (next.action === 'done') {
          ok = next.ok;
          detail = next.detail;
          break;
        }
        await record(d, state, 'repoint-passfile', `${name}: ${next.reason}`);
        if (next.action === 'write-passfile') {
          const passfileOutcome = await d.host
            .run(replica, 'write-passfile', hostRoles(d), {
              timeoutMs: REPOINT_PASSFILE_BOUNDS.hostMs,
              deliveryTimeoutMs: REPOINT_PASSFILE_BOUNDS.deliveryMs,
            })
            .then(
              (r) => ({ state: parsePassfileState(r.stdout) }),
              (e: Error) => ({ error: e.message.slice(0, 300) }),
            );
          input = { ...input, passfileOutcome };
        } else {
          const retry = await d.pg
            .repoint(endpointOf(replica), endpointOf(primary), target, { timeoutMs: REPOINT_PASSFILE_BOUNDS.retryMs })
            .then(
              () => ({ ok: true as const }),
              (e: Error) => ({ ok: false as const, message: e.message }),
            );
          input = { ...input, retry };
        }
      }
    }
    await record(d, state, 'repoint', `${name}: ${detail}`);
    return { replica: name, ok, detail };
  },
);

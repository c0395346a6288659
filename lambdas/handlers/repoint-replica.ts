import { repointEnough } from '../core/commit-health';
import { CandidateFailedError } from '../core/errors';
import { endpointOf, findNode, replicationEndpointOf } from './cluster-view';
import { hostPassfile } from './config';
import { hostTlsKeywords } from './follow';
import { record, StepRefusedError, task } from './task';

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
    const stopWaiting = async (elapsedMs: number): Promise<string | null> => {
      if (!others.length || d.config.settings.replicationMode !== 'sync') return null;
      const p = await d.pg.probe(endpointOf(primary));
      const streaming = (p.standbys ?? [])
        .filter((s) => others.includes(s.name) && s.state === 'streaming')
        .map((s) => s.name);
      return repointEnough({
        mode: d.config.settings.replicationMode,
        replica: name,
        elapsedMs,
        othersStreaming: streaming,
      });
    };
    let ok = true;
    let detail = `streams from ${primary.name} on timeline ${state.newTimeline ?? '?'}`;
    try {
      await d.pg.repoint(
        endpointOf(replica),
        endpointOf(primary),
        {
          ...upstream,
          user: d.repl.user,
          passfile: hostPassfile(d.config),
          slotName: replica.name,
          tlsKeywords: hostTlsKeywords(d, primary),
        },
        { timeoutMs: 20000, stopWaiting },
      );
    } catch (err) {
      ok = false;
      detail = `not re-pointed: ${(err as Error).message}`;
      // Is it the candidate that failed? A primary that does not answer as one is the run's problem, not the replica's.
      const p = await d.pg.probe(endpointOf(primary)).catch(() => undefined);
      if (!p?.ok || p.role !== 'primary') {
        const why = `new primary ${primary.name} ${p?.ok ? `answers as a ${p.role ?? 'node of unknown role'}` : `does not answer (${p?.error ?? 'probe failed'})`} while ${name} was re-pointed to it`;
        await record(d, state, 'repoint-candidate-lost', why);
        throw new CandidateFailedError(why);
      }
    }
    await record(d, state, 'repoint', `${name}: ${detail}`);
    return { replica: name, ok, detail };
  },
);

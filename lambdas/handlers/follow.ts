import { RetriableError } from '../core/errors';
import type { RegisteredNode } from '../ports/store-port';
import { endpointOf, replicationEndpointOf } from './cluster-view';
import type { Deps } from './deps';

/** A node did not come back as a streaming replica in time. */
export class NotStreamingError extends RetriableError {}

/** libpq conninfo a replica streams with. */
export function followConninfo(d: Deps, primary: RegisteredNode, applicationName: string): string {
  const up = replicationEndpointOf(primary);
  return `host=${up.host} port=${up.port} user=${d.repl.user} password=${d.repl.password} application_name=${applicationName} connect_timeout=2`;
}

/** libpq conninfo pg_rewind uses to read the new primary (needs the controller's privileged role). */
export function rewindSourceConninfo(d: Deps, primary: RegisteredNode): string {
  const up = replicationEndpointOf(primary);
  return `host=${up.host} port=${up.port} user=${d.db.user} password=${d.db.password} dbname=${d.config.PGQ_DB_NAME} connect_timeout=5`;
}

/** Waits until `node` is a replica streaming on at least `timeline`. */
export async function waitStreaming(d: Deps, node: RegisteredNode, timeline: number, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    const p = await d.pg.probe(endpointOf(node));
    last = p.ok ? `role ${p.role}, streaming ${p.streaming}, timeline ${p.timeline}` : (p.error ?? 'unreachable');
    if (p.ok && p.role === 'replica' && p.streaming && (p.timeline ?? 0) >= timeline) return;
    if (Date.now() > deadline)
      throw new NotStreamingError(`${node.name} is not streaming on timeline ${timeline} (${last})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

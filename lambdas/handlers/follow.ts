import { commitHealth, statusAfterFailedRejoin } from '../core/commit-health';
import { buildConninfo } from '../core/conninfo';
import { RetriableError } from '../core/errors';
import { libpqTlsKeywords } from '../core/tls';
import type { RegisteredNode } from '../ports/store-port';
import { endpointOf, findNode, replicationEndpointOf } from './cluster-view';
import type { Deps } from './deps';
import { pageRejoinFailure } from './rejoin-page';
import type { RunState } from './run-state';
import { type Phase, record } from './task';

/** A node did not come back as a streaming replica in time. */
export class NotStreamingError extends RetriableError {}

/**
 * libpq conninfo a replica streams with. Never carries a password: host-script
 * parameters are visible in SSM command history, so the script writes the
 * passwords into a passfile on the host and adds `passfile=` itself.
 */
export function followConninfo(d: Deps, primary: RegisteredNode, applicationName: string): string {
  const up = replicationEndpointOf(primary);
  return buildConninfo({
    ...up,
    user: d.repl.user,
    applicationName,
    connectTimeoutSec: 2,
    tlsKeywords: hostTlsKeywords(d, primary),
  });
}

/**
 * The TLS keywords of a host-side connection to `primary` (replication, pg_rewind, pg_basebackup): the deployment's
 * mode, the CA file on the host, and the node's TLS server name when one is configured.
 */
export function hostTlsKeywords(d: Deps, primary: RegisteredNode): string[] {
  const up = replicationEndpointOf(primary);
  const serverName = d.config.PGQ_NODE_TLS_NAMES?.[primary.name];
  return libpqTlsKeywords(d.config.sslMode, d.config.PGQ_HOST_CA_FILE, {
    address: up.host,
    ...(serverName ? { serverName } : {}),
  });
}

/** libpq conninfo pg_rewind uses to read the new primary (the rewind role); no password, as above. */
export function rewindSourceConninfo(d: Deps, primary: RegisteredNode): string {
  const up = replicationEndpointOf(primary);
  return buildConninfo({
    ...up,
    user: d.rewind.user,
    dbname: d.config.PGQ_DB_NAME,
    connectTimeoutSec: 5,
    tlsKeywords: hostTlsKeywords(d, primary),
  });
}

/** The non-secret host-script parameters naming the roles whose passwords the passfile must hold. */
export function hostRoles(d: Deps): { REWIND_USER: string; REPL_USER: string } {
  return { REWIND_USER: d.rewind.user, REPL_USER: d.repl.user };
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

/**
 * Runs a step that comes after the commit (the old primary rejoining; the
 * wrapper's after-commit rule has checked the epoch and that the node is not
 * the lease's primary), never failing the run: the failover or switchover
 * stands; a failure leaves the node `needs-rejoin`. The step may take
 * minutes, so its records are written only if the lease still names the same
 * epoch and primary (a newer run's registry is never overwritten).
 */
export async function afterCommit(
  d: Deps,
  state: Phase<'oldPrimary' | 'candidate' | 'epoch'>,
  label: string,
  fn: (old: RegisteredNode, primary: RegisteredNode) => Promise<string>,
): Promise<RunState> {
  const nodes = await d.store.listNodes();
  const old = findNode(nodes, state.oldPrimary);
  const primary = findNode(nodes, state.candidate);
  const epoch = state.epoch;
  const guard = { epoch, primary: primary.name };
  try {
    const detail = await fn(old, primary);
    await d.store.writeGuarded(guard, {
      nodes: [{ ...old, role: 'replica', status: 'healthy' }],
      event: { epoch, fields: { rejoin: detail } },
    });
    await record(d, state, label, detail);
    return { ...state, rejoin: detail };
  } catch (err) {
    const detail = `${label} of ${old.name} failed: ${(err as Error).message}`;
    // The committed run is degraded from now on: the history and status say so (commitHealth's rejoin reason).
    const degraded = [
      ...(state.degraded ?? []),
      ...commitHealth({ primary: primary.name, replicas: [], rejoinFailure: detail.slice(0, 300) }).degraded,
    ];
    const status = statusAfterFailedRejoin(old.status);
    const marked = await d.store
      .writeGuarded(guard, {
        nodes: [{ ...old, role: 'replica', status }],
        event: { epoch, fields: { rejoin: detail, degraded } },
      })
      .then(
        () => true,
        () => false,
      );
    await record(d, state, `${label}-failed`, detail).catch(() => undefined);
    d.log.warn(`${label} failed`, { node: old.name, reason: detail });
    // A write refused because a newer run owns the lease marks nothing, so it pages nothing either.
    if (marked) {
      await pageRejoinFailure(d, {
        mode: state.input.mode,
        epoch,
        node: old.name,
        primary: primary.name,
        status,
        detail,
      });
    }
    return { ...state, rejoin: detail, degraded };
  }
}

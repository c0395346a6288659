import { FatalError, RetriableError } from '../../core/errors';

/** The node did not answer in time or refused the connection. */
export class NodeUnreachableError extends RetriableError {}
/** pg_promote did not complete, or the node did not accept writes in time. */
export class PromotionFailedError extends RetriableError {}
/** The node did not replay up to the wanted LSN in time. */
export class ReplayTimeoutError extends RetriableError {}
/**
 * The replica's WAL replay is paused (pg_wal_replay_pause(), a recovery target with pause, a hot-standby setting
 * mismatch) short of the wanted LSN: it will not get there by waiting, so the step fails at once.
 */
export class ReplayPausedError extends FatalError {}
/** The replica did not stream from its new primary in time. */
export class RepointFailedError extends RetriableError {}
/** A node is in a state the step cannot work with (for example a replica asked to act as primary). */
export class UnexpectedNodeStateError extends FatalError {}
/**
 * The node could not be authenticated: its certificate does not chain to the configured CA, does not name the node
 * (verify-full), or it offered no TLS at all. Nothing after the TLS handshake was sent, credentials included. A
 * kind of unreachable on purpose: a node the controller cannot authenticate is one it cannot use, and the steps
 * that treat an unreachable node as such (candidacy, probes) must do the same here.
 */
export class NodeTlsError extends NodeUnreachableError {}
/**
 * The node answered and refused the controller's credentials (SQLSTATE class 28: a wrong password, no pg_hba.conf
 * entry). Unreachable to the steps, as a node the controller cannot log in to is one it cannot use; the probes
 * tell it apart, because a node that answers is no evidence of a dead primary.
 */
export class NodeAuthError extends NodeUnreachableError {}

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

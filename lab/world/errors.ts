import { FatalError } from '../../lambdas/core/errors';

/**
 * The one error type the lab raises: its message is a single line a person can
 * act on (which port is taken, which binary is missing, which node is unknown).
 */
export class LabError extends FatalError {}

import { FatalError } from '../lambdas/core/errors';

/**
 * Exit codes are API for scripts: 0 success; 1 the operation ran and failed;
 * 2 bad usage or bad input (unknown node, missing flag, no confirmation);
 * 3 refused by a safety check (paused, lagging target, lease held), nothing changed;
 * 4 the environment is missing (no credentials, no lab, controller not deployed).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3, environment: 4 } as const;

/** An error the CLI reports as one line with its own exit code. */
export abstract class CliError extends FatalError {
  abstract readonly exitCode: number;
}

/** Bad input: nothing was attempted. */
export class UsageError extends CliError {
  readonly exitCode = EXIT.usage;
}

/** A pre-check (the same rules as the state machine's ValidateInput) refused: nothing changed. */
export class RefusedError extends CliError {
  readonly exitCode = EXIT.refused;
}

/** No credentials, no lab, or nothing deployed to talk to. */
export class EnvironmentError extends CliError {
  readonly exitCode = EXIT.environment;
}

/** The operation started and did not succeed. */
export class OperationFailedError extends CliError {
  readonly exitCode = EXIT.failed;
}

/** The exit code for any error: CLI errors carry theirs, anything else is a failure. */
export function exitCodeOf(err: unknown): number {
  return err instanceof CliError ? err.exitCode : EXIT.failed;
}

/**
 * The names the stack, the adapters, the state machine and the CLI must agree on, in one module. It lives in
 * lambdas/core (pure constants) so every layer may import it: core's errors, adapters, handlers, infra and cli.
 */

/** The CloudWatch namespace every metric, alarm and dashboard widget uses. */
export const METRIC_NAMESPACE = 'PgQuorum';

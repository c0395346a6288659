/**
 * The package's construct entry (`import { PgQuorumCluster } from 'pgquorum/construct'`): the L3 construct, its
 * props and the names a stack of your own may need to agree on.
 */
export { METRIC_NAMESPACE } from '../lambdas/core/contract';
export type { ControllerSettings } from '../lambdas/core/settings';
export { PgQuorumCluster, type PgQuorumClusterProps, type PgQuorumNode } from './constructs/pgquorum-cluster';
export { TASKS, type TaskName } from './constructs/tasks';

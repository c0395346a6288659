/** How a task function runs. */
export interface TaskSpec {
  /** lambdas/handlers/<entry>.ts */
  readonly entry: string;
  readonly timeoutSec: number;
  readonly memoryMb: number;
  /** Needs to reach PostgreSQL (runs in the VPC). Route 53 has no VPC endpoint, so flip-dns runs outside. */
  readonly needsVpc: boolean;
  /**
   * AWS permissions beyond the table and metrics. `postgres`: the step connects to PostgreSQL, so it (and only it)
   * may read the database secret; the others run with `PGQ_DB_ACCESS=none` and never fetch it.
   */
  readonly needs: readonly (
    | 'postgres'
    | 'fence'
    | 'ssm'
    | 'route53'
    | 'route53-status'
    | 'sns'
    | 'describe-sg'
    | 'stop-instance'
    | 'describe-instance'
  )[];
}

/** Every state-machine task, by name; the lab deployer reuses this list. */
export const TASKS = {
  'validate-input': { entry: 'validate-input', timeoutSec: 30, memoryMb: 256, needsVpc: true, needs: ['postgres'] },
  'acquire-lease': { entry: 'acquire-lease', timeoutSec: 15, memoryMb: 256, needsVpc: false, needs: [] },
  'confirm-quorum': { entry: 'confirm-quorum', timeoutSec: 15, memoryMb: 256, needsVpc: false, needs: [] },
  'select-candidate': { entry: 'select-candidate', timeoutSec: 30, memoryMb: 256, needsVpc: true, needs: ['postgres'] },
  // The ladder's bounds (settings.fence: SSM stop <= 30 s, then StopInstances <= 60 s) fit in this timeout.
  fence: {
    entry: 'fence',
    timeoutSec: 90,
    memoryMb: 256,
    needsVpc: true,
    needs: ['postgres', 'fence', 'ssm', 'stop-instance', 'describe-instance'],
  },
  'verify-fence': {
    entry: 'verify-fence',
    timeoutSec: 30,
    memoryMb: 256,
    needsVpc: true,
    needs: ['postgres', 'describe-sg', 'describe-instance'],
  },
  promote: { entry: 'promote', timeoutSec: 60, memoryMb: 256, needsVpc: true, needs: ['postgres'] },
  // UPSERTs only (INSYNC is polled after the commit by check-dns-insync): seconds, not Route 53's 60 s.
  'flip-dns': { entry: 'flip-dns', timeoutSec: 30, memoryMb: 256, needsVpc: false, needs: ['route53'] },
  // One GetChange per record per invocation; the state machine's Wait state sits between invocations.
  'check-dns-insync': {
    entry: 'check-dns-insync',
    timeoutSec: 15,
    memoryMb: 256,
    needsVpc: false,
    needs: ['route53-status'],
  },
  // Fences a failed candidate (ingress, then the SSM stop within settings.fence.hostStopTimeoutSec) and re-plans.
  replan: {
    entry: 'replan',
    timeoutSec: 60,
    memoryMb: 256,
    needsVpc: false,
    needs: ['fence', 'ssm', 'describe-sg'],
  },
  'repoint-replica': { entry: 'repoint-replica', timeoutSec: 60, memoryMb: 256, needsVpc: true, needs: ['postgres'] },
  // Probes the promoted candidate (twice, 500 ms apart) after FlipDns and before Commit: in the VPC, as neither is.
  'confirm-candidate': {
    entry: 'confirm-candidate',
    timeoutSec: 15,
    memoryMb: 256,
    needsVpc: true,
    needs: ['postgres'],
  },
  commit: { entry: 'commit', timeoutSec: 30, memoryMb: 256, needsVpc: false, needs: ['sns'] },
  // describe-*: the notification states the fenced node's condition (ingress, instance state).
  abort: {
    entry: 'abort',
    timeoutSec: 30,
    memoryMb: 256,
    needsVpc: false,
    // fence: a candidate the run promoted is fenced (ingress revoked) before the run ends.
    needs: ['sns', 'describe-sg', 'describe-instance', 'fence'],
  },
  'rejoin-old-primary': {
    entry: 'rejoin-old-primary',
    timeoutSec: 900,
    memoryMb: 256,
    needsVpc: true,
    needs: ['postgres', 'fence', 'ssm'],
  },
  // Outside the VPC: it updates the reader record (Route 53 has no VPC endpoint).
  'settle-rejoin': { entry: 'settle-rejoin', timeoutSec: 90, memoryMb: 256, needsVpc: false, needs: ['route53'] },
  'stop-old-primary': { entry: 'stop-old-primary', timeoutSec: 90, memoryMb: 256, needsVpc: true, needs: ['ssm'] },
  'wait-for-replay': { entry: 'wait-for-replay', timeoutSec: 60, memoryMb: 256, needsVpc: true, needs: ['postgres'] },
  'restart-old-as-replica': {
    entry: 'restart-old-as-replica',
    timeoutSec: 120,
    memoryMb: 256,
    needsVpc: true,
    needs: ['postgres', 'ssm'],
  },
  // Switchover rollback: in the VPC (the old primary's PostgreSQL, SSM for the restart, EC2 to fence a target that
  // may still be promoting); the records, lease and notification follow in finish-rollback, outside (Route 53).
  'rollback-switchover': {
    entry: 'rollback-switchover',
    timeoutSec: 120,
    memoryMb: 256,
    needsVpc: true,
    needs: ['postgres', 'ssm', 'fence'],
  },
  'finish-rollback': {
    entry: 'finish-rollback',
    timeoutSec: 30,
    memoryMb: 256,
    needsVpc: false,
    needs: ['route53', 'sns'],
  },
} as const satisfies Record<string, TaskSpec>;

/** A task's name. */
export type TaskName = keyof typeof TASKS;

/** The probe function (one per AZ). */
export const PROBE: TaskSpec = {
  entry: 'probe',
  timeoutSec: 65,
  memoryMb: 256,
  needsVpc: true,
  // A probe notifies the topic when its decision is needs-attention (anti-flap, lag over budget).
  needs: ['postgres', 'sns'],
};

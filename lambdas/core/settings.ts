import { z } from 'zod';
import { ValidationError } from './errors';

/** What the fence does when the old primary's host cannot be reached to stop PostgreSQL. */
export const UNREACHABLE_HOST_POLICIES = ['quorum', 'stop-instance', 'operator'] as const;

/** One of UNREACHABLE_HOST_POLICIES. */
export type UnreachableHostPolicy = (typeof UNREACHABLE_HOST_POLICIES)[number];

/**
 * The fence ladder's settings (docs/design.md section 4; lambdas/core/fence-ladder.ts). The two bounds together stay
 * well inside the fence function's 90 s timeout, so a lost host is decided, not waited out.
 */
export const fenceSettingsSchema = z.object({
  unreachableHost: z
    .enum(UNREACHABLE_HOST_POLICIES)
    .optional()
    .describe(
      'When the host cannot be reached to stop PostgreSQL: `quorum` (sync mode only: detach every replica from it and prove none streams, so ANY 1 can acknowledge nothing), `stop-instance` (STONITH: ec2:StopInstances with Force and SkipOsShutdown, wait for stopped), or `operator` (needs-attention). Default: `quorum` in sync mode, `stop-instance` in async mode.',
    ),
  hostStopTimeoutSec: z
    .number()
    .int()
    .min(1)
    .max(30)
    .default(8)
    .describe(
      'How long the fence waits for the SSM stop of PostgreSQL before it treats the host as unreachable (s). SSM Run Command takes a second or more to deliver and report.',
    ),
  stopInstanceTimeoutSec: z
    .number()
    .int()
    .min(5)
    .max(60)
    .default(45)
    .describe('stop-instance: how long the fence waits for EC2 to report the instance `stopped` (s).'),
  awaitHostStop: z
    .boolean()
    .optional()
    .describe(
      'Whether the promotion waits for the SSM stop of PostgreSQL (up to hostStopTimeoutSec). `false` is allowed only where the unreachable-host policy is `quorum`: the stop is still sent (it severs the sessions connection tracking keeps), but the fence is the quorum fence at once (when every replica answers its detach; else the stop is awaited after all), which alone keeps the old primary from acknowledging a write; this takes SSM delivery (about 1-3 s, and hostStopTimeoutSec for a host that is gone but still running) off the write path, at the price of sessions already open on a live old primary reading stale data (or committing, if they set synchronous_commit local or off) until the stop lands. Default: `false` where the policy is `quorum`, `true` otherwise.',
    ),
});

/** The most the two fence bounds may add up to (s). @default 75 */
export const FENCE_BOUNDS_MAX_SEC = 75;

/**
 * The slowest replay rate the switchover settings may assume (bytes/s): switchoverMaxReplayLagBytes must be
 * replayable within switchoverReplayTimeoutMs at this rate, or an admitted target could time out and roll back.
 * @default 4194304
 */
export const REPLAY_RATE_FLOOR_BYTES_PER_SEC = 4 * 1024 * 1024;

/** The fence ladder's validated settings. */
export type FenceSettings = z.infer<typeof fenceSettingsSchema>;

/** The fields, before the cross-field checks (kept apart so each field keeps its own schema). */
const settingsShape = z.object({
  probeIntervalMs: z
    .number()
    .int()
    .min(200)
    .max(60000)
    .default(1000)
    .describe('How often each probe AZ checks every node (ms).'),
  failuresToDown: z
    .number()
    .int()
    .min(1)
    .max(100)
    .default(3)
    .describe('Consecutive failed probes before an AZ votes down.'),
  /** Covers one missed probe round plus clock skew. */
  voteTtlMs: z
    .number()
    .int()
    .min(500)
    .max(600000)
    .default(5000)
    .describe('A vote older than this is stale and counts for nothing (ms).'),
  minFailoverIntervalSec: z
    .number()
    .int()
    .min(0)
    .max(86400)
    .default(300)
    .describe('Anti-flap: a second automatic failover within this window goes to needs-attention instead (s).'),
  maxLagBytes: z
    .number()
    .int()
    .min(0)
    .default(16 * 1024 * 1024)
    .describe(
      'Async mode: the most a candidate may lag to be promoted automatically; also the replica-lag alarm (bytes).',
    ),
  replicationMode: z
    .enum(['sync', 'async'])
    .default('sync')
    .describe('sync: ANY 1 quorum commit, zero acknowledged loss; async: bytes at risk are reported.'),
  leaseDurationMs: z
    .number()
    .int()
    .min(10000)
    .max(3600000)
    .default(300000)
    .describe('How long a run holds the lease before it counts as expired (a crashed holder, needs an operator) (ms).'),
  streamingGraceMs: z
    .number()
    .int()
    .min(0)
    .max(600000)
    .default(30000)
    .describe('A replica whose WAL receiver stopped longer ago than this is not a candidate (ms).'),
  syncStandbyAlarmSec: z
    .number()
    .int()
    .min(10)
    .max(3600)
    .default(20)
    .describe(
      'Sync mode: the alarm fires when the primary has had no synchronous standby for this long (s); the probes notify at once.',
    ),
  onNoSyncStandby: z
    .enum(['block', 'degrade'])
    .default('block')
    .describe(
      'Sync mode, no synchronous standby: `block` (commits wait, nothing acknowledged is lost) or `degrade` (after degradeAfterSec, empty synchronous_standby_names: writes resume, an RPO window is recorded, quorum sync comes back once a standby has streamed for syncRestoreAfterSec).',
    ),
  degradeAfterSec: z
    .number()
    .int()
    .min(1)
    .max(3600)
    .default(15)
    .describe('onNoSyncStandby degrade: how long commits may block before the primary goes async (s).'),
  /**
   * Hysteresis for onNoSyncStandby degrade: a standby that streams, drops and streams again must not toggle
   * synchronous_standby_names every few seconds (each restore makes commits wait again, degradeAfterSec at every
   * drop). Measured on the primary (its walsender's age), so every probe judges the same stream the same way.
   * @default 10
   */
  syncRestoreAfterSec: z
    .number()
    .int()
    .min(0)
    .max(3600)
    .default(10)
    .describe(
      'onNoSyncStandby degrade: how long a standby must have streamed without a break before quorum sync is restored (s).',
    ),
  /**
   * The default, 4 MiB, takes at most a second to replay even at REPLAY_RATE_FLOOR_BYTES_PER_SEC (PostgreSQL 15
   * on modest storage replays tens of MB/s of ordinary WAL), so a target admitted at the bound keeps the write
   * pause near the switchover's 1.5 s target and finishes far inside the default switchoverReplayTimeoutMs,
   * with room for the WAL written between the check and the stop. The cross-field check keeps any pair of
   * values replayable at that floor rate.
   * @default 4194304
   */
  switchoverMaxReplayLagBytes: z
    .number()
    .int()
    .min(0)
    .default(4 * 1024 * 1024)
    .describe(
      'Switchover: the most the target’s replay LSN may be behind the primary’s current LSN when the switchover is checked, before anything stops; a target with replay paused is refused too (bytes, every replication mode).',
    ),
  /**
   * Inside the wait-for-replay function's 60 s timeout (infra/constructs/tasks.ts), with room for its
   * connections.
   * @default 30000
   */
  switchoverReplayTimeoutMs: z
    .number()
    .int()
    .min(1000)
    .max(50000)
    .default(30000)
    .describe(
      'Switchover: how long WaitForReplay waits for the target to replay past the old primary’s final checkpoint before the switchover rolls back (ms).',
    ),
  maxReplans: z
    .number()
    .int()
    .min(0)
    .max(5)
    .default(2)
    .describe(
      'Failover: how many times one run may give up a candidate that failed after it was chosen (promote failed, unreachable, died before the commit), fence it and choose another, before it goes to needs-attention.',
    ),
  fence: fenceSettingsSchema
    .default(fenceSettingsSchema.parse({}))
    .describe('The fence ladder: what to do when the old primary’s host does not answer (see below).'),
});

/**
 * Thresholds of the controller. Defaults give detection in about
 * failuresToDown x probeIntervalMs (3 s) plus a vote round trip, inside the
 * 5 s RTO budget, while a pause shorter than ~2.5 s never completes a quorum.
 */
export const settingsSchema = settingsShape.superRefine((c, ctx) => {
  // The fence function's timeout is 90 s (infra/constructs/tasks.ts): revoke, detach and EC2 calls need the rest.
  if (c.fence.hostStopTimeoutSec + c.fence.stopInstanceTimeoutSec > FENCE_BOUNDS_MAX_SEC)
    ctx.addIssue({
      code: 'custom',
      path: ['fence', 'stopInstanceTimeoutSec'],
      message: `hostStopTimeoutSec + stopInstanceTimeoutSec must be at most ${FENCE_BOUNDS_MAX_SEC} s (the fence function times out at 90 s)`,
    });
  // An admitted target must be able to replay its allowed lag before WaitForReplay gives up and rolls back.
  if (c.switchoverMaxReplayLagBytes > (REPLAY_RATE_FLOOR_BYTES_PER_SEC * c.switchoverReplayTimeoutMs) / 1000)
    ctx.addIssue({
      code: 'custom',
      path: ['switchoverMaxReplayLagBytes'],
      message: `must be replayable within switchoverReplayTimeoutMs (${c.switchoverReplayTimeoutMs} ms) at ${REPLAY_RATE_FLOOR_BYTES_PER_SEC} bytes/s: at most ${Math.floor((REPLAY_RATE_FLOOR_BYTES_PER_SEC * c.switchoverReplayTimeoutMs) / 1000)}`,
    });
  // Without synchronous replication nothing stops a live old primary from acknowledging writes alone.
  if (c.fence.unreachableHost === 'quorum' && c.replicationMode !== 'sync')
    ctx.addIssue({
      code: 'custom',
      path: ['fence', 'unreachableHost'],
      message:
        'quorum fencing needs replicationMode sync (an async primary acknowledges writes with no standby): use stop-instance or operator',
    });
  // Not waiting for the stop is safe only when the quorum fence stands in for it.
  if (c.fence.awaitHostStop === false && unreachableHostPolicy(c) !== 'quorum')
    ctx.addIssue({
      code: 'custom',
      path: ['fence', 'awaitHostStop'],
      message: `false needs the unreachable-host policy quorum (here ${unreachableHostPolicy(c)}): only the quorum fence keeps a live old primary from acknowledging writes without the stop`,
    });
  // A degraded primary acknowledges alone: detaching its replicas no longer proves it cannot take writes.
  if (c.onNoSyncStandby === 'degrade' && c.fence.unreachableHost === 'quorum')
    ctx.addIssue({
      code: 'custom',
      path: ['fence', 'unreachableHost'],
      message: 'quorum fencing relies on ANY 1, which onNoSyncStandby degrade turns off: use stop-instance or operator',
    });
  if (c.onNoSyncStandby === 'degrade' && c.replicationMode !== 'sync')
    ctx.addIssue({
      code: 'custom',
      path: ['onNoSyncStandby'],
      message: 'degrade applies to replicationMode sync only (async has no synchronous standby to lose)',
    });
});

/** Validated controller settings. */
export type ControllerSettings = z.infer<typeof settingsSchema>;

/** The defaults, for tests and documentation. */
export const DEFAULT_SETTINGS: ControllerSettings = settingsSchema.parse({});

/** The unreachable-host policy in effect: the configured one, else by replication mode. */
export function unreachableHostPolicy(
  s: Pick<ControllerSettings, 'replicationMode' | 'fence'> & Partial<Pick<ControllerSettings, 'onNoSyncStandby'>>,
): UnreachableHostPolicy {
  // degrade may leave the primary acknowledging alone, which a quorum fence cannot stop.
  return (
    s.fence.unreachableHost ??
    (s.replicationMode === 'sync' && s.onNoSyncStandby !== 'degrade' ? 'quorum' : 'stop-instance')
  );
}

/**
 * Whether the fence holds the promotion until the SSM stop of PostgreSQL is confirmed: the configured choice, else
 * only where the quorum fence cannot stand in for it (docs/design.md section 4).
 */
export function awaitsHostStop(
  s: Pick<ControllerSettings, 'replicationMode' | 'fence'> & Partial<Pick<ControllerSettings, 'onNoSyncStandby'>>,
): boolean {
  return s.fence.awaitHostStop ?? unreachableHostPolicy(s) !== 'quorum';
}

/** Validates settings; the error names each bad field. */
export function parseSettings(input: unknown): ControllerSettings {
  const r = settingsSchema.safeParse(input ?? {});
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ValidationError(`invalid controller settings: ${msg}`);
  }
  return r.data;
}

import { z } from 'zod';
import { ValidationError } from './errors';

/** What the fence does when the old primary's host cannot be reached to stop PostgreSQL. */
export const UNREACHABLE_HOST_POLICIES = ['quorum', 'stop-instance', 'operator'] as const;

/** One of UNREACHABLE_HOST_POLICIES. */
export type UnreachableHostPolicy = (typeof UNREACHABLE_HOST_POLICIES)[number];

/**
 * The fence ladder's settings (DESIGN section 4; lambdas/core/fence-ladder.ts). The two bounds together stay
 * well inside the fence function's 90 s timeout, so a lost host is decided, not waited out.
 */
export const fenceSettingsSchema = z.object({
  unreachableHost: z
    .enum(UNREACHABLE_HOST_POLICIES)
    .optional()
    .describe(
      'When the host cannot be reached to stop PostgreSQL: `quorum` (sync mode only: detach every replica from it and prove none streams, so ANY 1 can acknowledge nothing), `stop-instance` (STONITH: ec2:StopInstances with Force, wait for stopped), or `operator` (needs-attention). Default: `quorum` in sync mode, `stop-instance` in async mode.',
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
});

/** The most the two fence bounds may add up to (s). @default 75 */
export const FENCE_BOUNDS_MAX_SEC = 75;

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
  // Without synchronous replication nothing stops a live old primary from acknowledging writes alone.
  if (c.fence.unreachableHost === 'quorum' && c.replicationMode !== 'sync')
    ctx.addIssue({
      code: 'custom',
      path: ['fence', 'unreachableHost'],
      message:
        'quorum fencing needs replicationMode sync (an async primary acknowledges writes with no standby): use stop-instance or operator',
    });
});

/** Validated controller settings. */
export type ControllerSettings = z.infer<typeof settingsSchema>;

/** The defaults, for tests and documentation. */
export const DEFAULT_SETTINGS: ControllerSettings = settingsSchema.parse({});

/** The unreachable-host policy in effect: the configured one, else by replication mode. */
export function unreachableHostPolicy(s: Pick<ControllerSettings, 'replicationMode' | 'fence'>): UnreachableHostPolicy {
  return s.fence.unreachableHost ?? (s.replicationMode === 'sync' ? 'quorum' : 'stop-instance');
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

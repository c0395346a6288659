import { z } from 'zod';
import { PRINTABLE, REASON_MAX } from '../core/run-checks';
import { ROLLBACK_STEPS } from '../core/switchover-rollback';

/** Input of the state machine: validated first, before anything changes. Unknown keys are refused. */
export const runInputSchema = z.strictObject({
  mode: z.enum(['failover', 'switchover']),
  cluster: z.string().min(1).max(100),
  target: z.string().min(1).max(100).optional(),
  force: z.boolean().optional(),
  // Bounded and printable: a reason is stored in the lease and twice in the event (DynamoDB items stop at 400 KB),
  // and `pgquorum history` prints it to a terminal, where newlines and escapes would forge lines.
  reason: z
    .string()
    .min(1)
    .max(REASON_MAX, `at most ${REASON_MAX} characters`)
    .regex(PRINTABLE, 'must be printable: no newlines, tabs or control characters')
    .default('unspecified'),
});

/** A replica the Map state re-points. */
export const repointResultSchema = z.object({ replica: z.string(), ok: z.boolean(), detail: z.string() });

/**
 * The state carried from task to task. Each task returns the whole state with
 * its additions, so any step can be re-run from the state it was given.
 */
export const runStateSchema = z.object({
  input: runInputSchema,
  epoch: z.number().int().optional(),
  holder: z.string().optional(),
  startedAt: z.number().optional(),
  oldPrimary: z.string().optional(),
  quorumConfirmed: z.boolean().optional(),
  quorumReason: z.string().optional(),
  candidate: z.string().optional(),
  candidateReason: z.string().optional(),
  candidateLsn: z.string().optional(),
  oldPrimaryLastSeenLsn: z.string().nullable().optional(),
  /** The old primary's WAL rate as the probes measured it (bytes/s). */
  oldPrimaryLsnRate: z.number().nullable().optional(),
  replicas: z.array(z.string()).optional(),
  finalLsn: z.string().optional(),
  promotedLsn: z.string().optional(),
  newTimeline: z.number().optional(),
  repointed: z.array(repointResultSchema).optional(),
  rejoin: z.string().optional(),
  /** Fence: the rung that fenced the old primary (VerifyFence proves that rung), and what it left. */
  fence: z
    .object({
      rung: z.enum(['stop-postgres', 'quorum', 'stop-instance']),
      postgresStopped: z.boolean(),
      instanceState: z.string().optional(),
      reason: z.string(),
      /** The SSM stop sent and not awaited (fence.awaitHostStop false); the rejoin records how it ended. */
      stopCommandId: z.string().optional(),
    })
    .optional(),
  /** FlipDns: the Route 53 changes it made and when; the post-commit loop polls them for INSYNC. */
  dns: z
    .object({
      flippedAt: z.number(),
      writerChangeId: z.string(),
      readerChangeId: z.string().optional(),
    })
    .optional(),
  /** The post-commit INSYNC loop's progress (its Choice state reads `done`). */
  dnsWait: z
    .object({
      done: z.boolean(),
      polls: z.number().int(),
      writerInsyncAtMs: z.number().optional(),
      readerInsyncAtMs: z.number().optional(),
    })
    .optional(),
  /** Set by the state machine's catch when the INSYNC loop itself failed (it never fails the committed run). */
  dnsWaitError: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).passthrough().optional(),
  error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).passthrough().optional(),
  /** Switchover: the step whose failure sent the run to RollbackSwitchover (set by a Pass state after its catch). */
  rollbackFrom: z.enum(ROLLBACK_STEPS).optional(),
  /** RollbackSwitchover: why it rolled back, and what it did (FinishRollback records and reports it). */
  rollback: z
    .object({
      reason: z.string(),
      targetFenced: z.boolean(),
      oldPrimaryTimeline: z.number().optional(),
    })
    .optional(),
  /** Replan: the candidates this run gave up on (the lease's RunRecord.excluded is authoritative). */
  excluded: z.array(z.string()).optional(),
  /** Replan: timelines of given-up candidates that were promoted; a replica re-pointed to one may be chosen. */
  followedTimelines: z.array(z.number().int()).optional(),
  /** Replan's last decision, for the timeline and the drills. */
  replan: z.object({ count: z.number().int(), reason: z.string() }).optional(),
  /** FlipDns: the nodes it put behind the reader record (commit health). */
  readers: z.array(z.string()).optional(),
  /** Commit: what the committed cluster is missing (committed-degraded), one line each. */
  degraded: z.array(z.string()).optional(),
  /** Set by the state machine's catch when the rejoin step itself crashed (timeout, out of memory). */
  rejoinError: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).passthrough().optional(),
});

/** The state machine's running state. */
export type RunState = z.infer<typeof runStateSchema>;
/** The validated input. */
export type RunInputParsed = z.infer<typeof runInputSchema>;

import { z } from 'zod';
import { ValidationError } from './errors';

/**
 * Thresholds of the controller. Defaults give detection in about
 * failuresToDown x probeIntervalMs (3 s) plus a vote round trip, inside the
 * 5 s RTO budget, while a pause shorter than ~2.5 s never completes a quorum.
 */
export const settingsSchema = z.object({
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
});

/** Validated controller settings. */
export type ControllerSettings = z.infer<typeof settingsSchema>;

/** The defaults, for tests and documentation. */
export const DEFAULT_SETTINGS: ControllerSettings = settingsSchema.parse({});

/** Validates settings; the error names each bad field. */
export function parseSettings(input: unknown): ControllerSettings {
  const r = settingsSchema.safeParse(input ?? {});
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ValidationError(`invalid controller settings: ${msg}`);
  }
  return r.data;
}

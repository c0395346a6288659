import { z } from 'zod';
import { ValidationError } from './errors';

/**
 * Thresholds of the controller. Defaults give detection in about
 * failuresToDown x probeIntervalMs (3 s) plus a vote round trip, inside the
 * 5 s RTO budget, while a pause shorter than ~2.5 s never completes a quorum.
 */
export const settingsSchema = z.object({
  probeIntervalMs: z.number().int().min(200).max(60000).default(1000),
  /** Consecutive failed probes before an AZ votes "down". */
  failuresToDown: z.number().int().min(1).max(100).default(3),
  /** A vote older than this is stale and counts for nothing (covers one missed probe round plus clock skew). */
  voteTtlMs: z.number().int().min(500).max(600000).default(5000),
  /** A second automatic failover within this window goes to needs-attention instead (anti-flap). */
  minFailoverIntervalSec: z.number().int().min(0).max(86400).default(300),
  /** In async mode, the most a candidate may lag the old primary's last seen LSN to be promoted automatically. */
  maxLagBytes: z
    .number()
    .int()
    .min(0)
    .default(16 * 1024 * 1024),
  replicationMode: z.enum(['sync', 'async']).default('sync'),
  /** How long a state-machine execution holds the lease before it counts as expired (a crashed holder). */
  leaseDurationMs: z.number().int().min(10000).max(3600000).default(300000),
  /** A replica whose WAL receiver stopped longer ago than this is "not streaming". */
  streamingGraceMs: z.number().int().min(0).max(600000).default(30000),
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

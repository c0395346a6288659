/**
 * The lab's cloud-behaviour profiles. `ideal` is an emulator that answers at
 * once and never fails; `aws` behaves as AWS does wherever that decides the
 * outcome of a failover (Route 53 propagation, SSM delivery, a lost host,
 * Step Functions retries, API latency). The product never sees the profile: it
 * is modelled in the lab (a proxy in front of the emulator, the lab's
 * resolver endpoints, its SSM service), so the code under test only ever sees
 * AWS_ENDPOINT_URL. Every figure below cites where it comes from
 * (docs/emulator-notes.md holds the sources in full).
 */

/** A profile's name, chosen per lab run (`--cloud`). */
export const CLOUD_PROFILES = ['ideal', 'aws'] as const;
export type CloudProfileName = (typeof CLOUD_PROFILES)[number];

/** A latency drawn uniformly between two bounds, in milliseconds. */
export interface LatencyRange {
  readonly minMs: number;
  readonly maxMs: number;
}

/** What a profile models. Every field is a behaviour of the cloud, never of pgquorum. */
export interface CloudProfile {
  readonly name: CloudProfileName;
  /** Route 53: how long a change reports PENDING and stays invisible to resolvers, drawn per change. */
  readonly route53Propagation: LatencyRange;
  /** SSM Run Command: from SendCommand until the agent on a live host starts the script. */
  readonly ssmDelivery: LatencyRange;
  /** SSM Run Command: from the script's end until GetCommandInvocation reports it. */
  readonly ssmCompletion: LatencyRange;
  /** Added to every AWS API call through the lab's proxy, per service (`default` for the rest). */
  readonly apiLatency: Readonly<Record<string, LatencyRange>>;
  /** Added before each task Lambda invocation made by the state machine (state transition + invoke). */
  readonly taskInvokeLatency: LatencyRange;
}

const ZERO: LatencyRange = { minMs: 0, maxMs: 0 };

/** The emulator as it is: everything at once. */
export const IDEAL_PROFILE: CloudProfile = {
  name: 'ideal',
  route53Propagation: ZERO,
  ssmDelivery: ZERO,
  ssmCompletion: ZERO,
  apiLatency: { default: ZERO },
  taskInvokeLatency: ZERO,
};

/**
 * AWS as documented, each figure with its source in docs/emulator-notes.md
 * ("Cloud profiles"). Sourced: Route 53 is "designed to propagate updates ...
 * within 60 seconds under normal conditions" and reports INSYNC once it has
 * (Route 53 FAQ; GetChange API reference): the issue's default draws 10-60 s.
 * DynamoDB item operations average single-digit milliseconds server-side
 * (AWS knowledge center, "DynamoDB high latency"), plus the in-region network.
 * Not published by AWS, marked as estimates there and never tuned to results:
 * SSM delivery and completion (the issue's 0.5-2 s), the other APIs' latency,
 * and the state transition + warm invoke cost per task.
 */
export const AWS_PROFILE: CloudProfile = {
  name: 'aws',
  route53Propagation: { minMs: 10_000, maxMs: 60_000 },
  ssmDelivery: { minMs: 500, maxMs: 2_000 },
  ssmCompletion: { minMs: 200, maxMs: 1_000 },
  apiLatency: { default: { minMs: 5, maxMs: 30 }, dynamodb: { minMs: 3, maxMs: 12 } },
  taskInvokeLatency: { minMs: 20, maxMs: 80 },
};

/** The profile by name, with optional overrides (tests shorten the delays: `npm test` must stay near 10 min). */
export function cloudProfile(
  name: CloudProfileName,
  overrides: Partial<Omit<CloudProfile, 'name'>> = {},
): CloudProfile {
  const base = name === 'aws' ? AWS_PROFILE : IDEAL_PROFILE;
  return { ...base, ...overrides, name };
}

/** Draws one value from a range (uniform), with an injectable random source for tests. */
export function draw(range: LatencyRange, random: () => number = Math.random): number {
  return Math.round(range.minMs + (range.maxMs - range.minMs) * random());
}

import { isRetriable, PgqError, ValidationError } from '../core/errors';
import { staleEpoch } from '../core/lease';
import { type Deps, deps as defaultDeps } from './deps';
import { type RunState, runStateSchema } from './run-state';

/** What Step Functions passes each task: the run state, plus the execution's name. */
export interface TaskEvent {
  /** A keep-warm ping (scheduled): build the dependencies and return, so a failover never pays a cold start. */
  warmup?: boolean;
  state: unknown;
  executionName?: string;
  /** Map iterations carry their item here. */
  item?: string;
}

/** Error names the state machine's Retry and Catch match on (stable API). */
export const RETRIABLE_ERROR = 'Pgq.Retriable';
export const FATAL_ERROR = 'Pgq.Fatal';

/**
 * Converts any error into one Step Functions can route: retriable ones are
 * retried with backoff by the state machine, fatal ones go to Abort. The
 * original type stays in the message for the timeline and the operator.
 */
export function toStepError(err: unknown): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  const out = new Error(`${e.name}: ${e.message}`);
  // Unknown errors (SDK timeouts, sockets) are retried: the epoch guard makes a retry safe.
  out.name = e instanceof PgqError && !isRetriable(e) ? FATAL_ERROR : RETRIABLE_ERROR;
  return out;
}

/** Options of a task. */
export interface TaskOptions {
  /** Tasks before the lease is taken have no epoch to check. */
  checkEpoch?: boolean;
}

/**
 * Wraps a step: parse the state, re-check that the run's epoch is still the
 * lease's (a stale run refuses to act: invariant 5), run, log one structured
 * line with the outcome, and translate errors for Step Functions.
 */
export function task<R = RunState>(
  name: string,
  step: (state: RunState, d: Deps, ev: TaskEvent) => Promise<R>,
  opts: TaskOptions = {},
  getDeps: () => Promise<Deps> = defaultDeps,
) {
  return async (ev: TaskEvent): Promise<R> => {
    const t0 = Date.now();
    let d: Deps | undefined;
    let state: RunState | undefined;
    try {
      d = await getDeps();
      if (ev?.warmup) return { warm: true } as R;
      const raw = (ev?.state ?? ev) as Record<string, unknown> | undefined;
      // An operator may start a run with the bare input ({mode, cluster, ...}) from the console or CLI.
      const parsed = runStateSchema.safeParse(raw && raw.input === undefined && 'mode' in raw ? { input: raw } : raw);
      if (!parsed.success) {
        throw new ValidationError(
          `${name}: bad run state: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        );
      }
      state = parsed.data;
      if (opts.checkEpoch !== false) {
        if (state.epoch === undefined) throw new ValidationError(`${name}: the run holds no epoch`);
        const stale = staleEpoch(await d.store.getLease(), state.epoch);
        if (stale) throw new ValidationError(`${name} refused: ${stale}`);
      }
      const out = await step(state, d, ev);
      d.log.info(`${name} done`, { task: name, epoch: state.epoch, ms: Date.now() - t0, outcome: 'ok' });
      return out;
    } catch (err) {
      const e = toStepError(err);
      d?.log.error(`${name} failed`, {
        task: name,
        epoch: state?.epoch,
        ms: Date.now() - t0,
        outcome: e.name,
        reason: e.message,
      });
      if (d && state?.epoch !== undefined) {
        await d.store
          .appendTimeline(state.epoch, { step: `${name}-failed`, at: Date.now(), detail: e.message.slice(0, 500) })
          .catch(() => undefined);
      }
      throw e;
    } finally {
      // EMF lines must be written before the handler returns: a frozen container loses them.
      if (d?.metrics) await d.metrics.flush().catch(() => undefined);
    }
  };
}

/** Appends a step to the run's timeline (idempotent per step and detail). */
export async function record(d: Deps, state: RunState, step: string, detail: string): Promise<void> {
  if (state.epoch === undefined) return;
  await d.store.appendTimeline(state.epoch, { step, at: d.now(), detail });
}

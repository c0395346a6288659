import { STEP_ERRORS } from '../core/contract';
import { CandidateFailedError, isRetriable, PgqError, ValidationError } from '../core/errors';
import { advanceRun, type RunProgress } from '../core/lease';
import { authorizeStep, type StepRule, type StepVerdict } from '../core/step-policy';
import type { Lease, RunRecord } from '../core/types';
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

/** Error names the state machine's Retry and Catch match on (stable API: lambdas/core/contract.ts). */
export const RETRIABLE_ERROR = STEP_ERRORS.retriable;
export const FATAL_ERROR = STEP_ERRORS.fatal;
/** The candidate failed after it was chosen: the state machine re-plans (Replan) instead of aborting. */
export const CANDIDATE_FAILED_ERROR = STEP_ERRORS.candidateFailed;

/**
 * Converts any error into one Step Functions can route: retriable ones are
 * retried with backoff by the state machine, fatal ones go to Abort. The
 * original type stays in the message for the timeline and the operator.
 */
export function toStepError(err: unknown): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  const out = new Error(`${e.name}: ${e.message}`);
  // Unknown errors (SDK timeouts, sockets) are retried: the epoch guard makes a retry safe.
  out.name =
    e instanceof CandidateFailedError
      ? CANDIDATE_FAILED_ERROR
      : e instanceof PgqError && !isRetriable(e)
        ? FATAL_ERROR
        : RETRIABLE_ERROR;
  return out;
}

/** A step refused to act for the run it was called for (stale, not the holder, input disagrees): nothing changed. */
export class StepRefusedError extends ValidationError {}

/** What the wrapper learnt before the step runs: the lease it checked and its verdict. */
export interface StepContext {
  /** The lease as read for the check (undefined for `none`). */
  readonly lease: Lease | undefined;
  /** `act`, or `retried` when the run already ended as this step would end it (a retry after the write). */
  readonly verdict: Extract<StepVerdict, { verdict: 'act' | 'retried' }>;
}

/** A field of the run state. */
export type RunField = keyof RunState;

/**
 * The run state as a step sees it: the fields it declared in `needs` are present (the wrapper refused the call
 * otherwise), so the step reads them without a non-null assertion.
 */
export type Phase<K extends RunField> = RunState & { [P in K]-?: Exclude<RunState[P], undefined> };

/**
 * A step's declared rule: its lease policy (lambdas/core/step-policy.ts) and the run-state fields it needs present.
 * A call whose state lacks one refuses with nothing changed, naming the fields.
 * @default needs []
 */
export interface TaskRule<K extends RunField> extends StepRule {
  readonly needs?: readonly K[];
}

/** A task's Lambda handler; `withDeps` builds the same handler (same name and rule) over other dependencies. */
export interface TaskHandler<R> {
  (ev: TaskEvent): Promise<R>;
  withDeps(getDeps: () => Promise<Deps>): TaskHandler<R>;
}

/**
 * Wraps a step: parse the state, check the step's declared rule against the
 * lease (invariant 5: a stale run, a caller that is not the holder, or input
 * that disagrees with the run's record refuses with nothing changed, not even
 * the timeline), run, log one structured line with the outcome, and translate
 * errors for Step Functions.
 */
export function task<K extends RunField = never, R = RunState>(
  name: string,
  rule: TaskRule<K>,
  step: (state: Phase<K>, d: Deps, ev: TaskEvent, ctx: StepContext) => Promise<R>,
  getDeps: () => Promise<Deps> = defaultDeps,
): TaskHandler<R> {
  const handler = async (ev: TaskEvent): Promise<R> => {
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
      // A const, so the `needs` check below reads it typed inside its callback.
      const parsedState = parsed.data;
      state = parsedState;
      const lease = rule.policy === 'none' ? undefined : await d.store.getLease();
      const v: StepVerdict = lease
        ? authorizeStep(
            lease,
            {
              mode: state.input.mode,
              epoch: state.epoch,
              holder: ev.executionName,
              oldPrimary: state.oldPrimary,
              candidate: state.candidate,
            },
            rule,
          )
        : { verdict: 'act' };
      if (v.verdict === 'refuse') throw new StepRefusedError(`${name} refused: ${v.reason}; nothing changed`);
      if (v.verdict === 'skip') {
        // A stale post-commit step says so on its run's timeline; a stranger's abort leaves no trace but the log.
        d.log.warn(`${name} skipped`, { task: name, epoch: state.epoch, reason: v.reason });
        if (rule.policy !== 'after-commit') return state as R;
        const detail = `${name} skipped: ${v.reason}`;
        await record(d, state, `${name}-skipped`, detail);
        return { ...state, rejoin: detail } as R;
      }
      const missing = (rule.needs ?? []).filter((k) => parsedState[k] === undefined);
      if (missing.length) {
        throw new StepRefusedError(`${name} refused: the run state has no ${missing.join(', ')}; nothing changed`);
      }
      const out = await step(state as Phase<K>, d, ev, { lease, verdict: v });
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
      if (d && state?.epoch !== undefined && !(err instanceof StepRefusedError)) {
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
  return Object.assign(handler, { withDeps: (g: () => Promise<Deps>) => task(name, rule, step, g) });
}

/** The run record a `holder` step acts for: authorizeStep refused the call if the lease held none. */
export function heldRun(ctx: StepContext): RunRecord {
  const run = ctx.lease?.run;
  if (!run) throw new StepRefusedError('the lease holds no run record: only a run holder acts; nothing changed');
  return run;
}

/** Appends a step to the run's timeline (idempotent per step and detail). */
export async function record(d: Deps, state: RunState, step: string, detail: string): Promise<void> {
  if (state.epoch === undefined) return;
  await d.store.appendTimeline(state.epoch, { step, at: d.now(), detail });
}

/**
 * Records what a step decided or proved in its run's record (a conditional
 * write through the one lease transition) and returns the record: a retry
 * recording the same value changes nothing; a conflicting one refuses.
 */
export async function advance(
  d: Deps,
  state: Phase<'epoch'>,
  ev: TaskEvent,
  progress: RunProgress,
): Promise<RunRecord> {
  const t = await d.store.transitionLease((l) =>
    advanceRun(l, { epoch: state.epoch, holder: ev.executionName, progress }),
  );
  if (!t.ok) throw new StepRefusedError(`run record not advanced: ${t.reason}`);
  // advanceRun only accepts a lease whose run record it advanced.
  if (!t.lease.run) throw new StepRefusedError('run record not advanced: the lease holds no run record');
  return t.lease.run;
}

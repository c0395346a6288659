import type { Mode } from './types';

/** What a Catch hands the state machine: Step Functions' Error (the error name) and Cause (text or JSON). */
export interface CaughtError {
  readonly Error?: string;
  readonly Cause?: string;
}

/** What the run's record says about the run that failed. */
export interface FailedRun {
  readonly mode: Mode;
  readonly epoch: number;
  readonly oldPrimary?: string;
  readonly candidate?: string;
}

/** What a caller keeps of a cause's message. */
export interface CauseOptions {
  /**
   * `first`: the first line, trimmed (what follows is a stack or detail); `all`: every line, whitespace collapsed to
   * single spaces.
   * @default 'first'
   */
  readonly lines?: 'first' | 'all';
  /** The longest message kept: a longer one is cut to this many characters, `cutMark` included. @default no bound */
  readonly max?: number;
  /** Ends a cut message, so a reader knows text is missing. @default '' */
  readonly cutMark?: string;
  /** What an absent or blank message reads as. @default '' */
  readonly fallback?: string;
}

/** A cause as read out of Lambda's wrapping: the errorType it names and its message as one line. */
export interface ReadCause {
  /** The JSON's errorType (e.g. `Pgq.Fatal`, `Sandbox.Timedout`); '' when the cause is not Lambda's JSON. */
  readonly errorType: string;
  readonly message: string;
}

/** Cuts text to `max` characters, the mark included; shorter text, or no bound, is returned as it is. */
function cut(text: string, max: number | undefined, mark = ''): string {
  if (max === undefined || text.length <= max) return text;
  return `${text.slice(0, max - mark.length)}${mark}`;
}

/**
 * The one rule for a step error's cause as a readable line, for the abort reason, the switchover rollback, Replan
 * and the CLI's run outcome: a Lambda failure's cause is the JSON of {errorType, errorMessage, trace} (a timeout's may
 * be plain text), and the operator reads the message, never the JSON. A caught error reads its Cause, else its Error
 * (a bare name is all some failures carry); a string is the cause itself.
 */
export function readCause(err: CaughtError | string | undefined, o: CauseOptions = {}): ReadCause {
  const text = typeof err === 'string' ? err : (err?.Cause ?? err?.Error ?? '');
  let errorType = '';
  let message = text;
  try {
    const j: unknown = JSON.parse(text);
    if (j !== null && typeof j === 'object') {
      const { errorType: type, errorMessage, message: plain } = j as Record<string, unknown>;
      if (typeof type === 'string') errorType = type;
      if (typeof errorMessage === 'string') message = errorMessage;
      else if (typeof plain === 'string') message = plain;
    }
  } catch {
    // Not JSON: the cause is the message.
  }
  const [firstLine = ''] = message.split('\n');
  const line = (o.lines === 'all' ? message.replace(/\s+/g, ' ') : firstLine).trim();
  return { errorType, message: cut(line, o.max, o.cutMark) || (o.fallback ?? '') };
}

/** The error's name and message, out of whatever shape Step Functions or Lambda wrapped them in. */
export function unwrapCause(err: CaughtError | undefined): { name: string; message: string } {
  let name = err?.Error?.trim() || '';
  // Only the Cause: the Error is the name here, never the message.
  const cause = readCause(err?.Cause ?? '', { lines: 'all' });
  let message = cause.message;
  if (cause.errorType && (!name || name === 'Runtime.HandlerError' || name.startsWith('States.'))) {
    name = cause.errorType;
  }
  // Runtime.HandlerError, and the routing names our tasks throw (Pgq.Fatal, Pgq.Retriable: toStepError), hide
  // the real name in the message ("NodeUnreachableError: pg2 ...").
  const prefixed = /^([A-Z][A-Za-z]*Error):\s*(.*)$/s.exec(message);
  const wrapper = name === 'Runtime.HandlerError' || name.startsWith('Pgq.');
  if (prefixed?.[1] !== undefined && (!name || wrapper || name === prefixed[1])) {
    name = prefixed[1];
    message = prefixed[2] ?? '';
  }
  return { name: name || 'unknown error', message: message.trim() };
}

/** Which step and node an error is about, in words. */
function what(name: string, message: string, run: FailedRun): string {
  const cand = run.candidate ? `candidate ${run.candidate}` : 'the candidate';
  switch (name) {
    case 'States.Timeout':
    case 'Sandbox.Timedout':
      return `a step timed out${message ? ` (${message})` : ''}`;
    case 'PromotionFailedError':
      return `${cand} did not promote (${message})`;
    case 'ReplayTimeoutError':
      return `${cand} did not replay in time (${message})`;
    case 'RepointFailedError':
      return `a replica could not be re-pointed (${message})`;
    case 'HostUnreachableError':
      return `a host did not take the command (${message})`;
    case 'NodeUnreachableError':
      return `a node did not answer (${message})`;
    case 'StepRefusedError':
      return `a step refused (${message})`;
    default:
      return message ? `${name}: ${message}` : name;
  }
}

/**
 * Errors whose message already is the sentence for the operator, with the nodes and the next command
 * (lambdas/handlers/replan.ts): neither cut nor given a second, generic next step.
 */
const SELF_EXPLAINING = new Set(['ReplanGiveUpError', 'ReplanFenceError']);

/**
 * One sentence for the lease, status, history and the notification: what ended the run, which nodes it was
 * about, and the command to run next. Never the raw Lambda JSON (the trace and the wrapping are dropped).
 * @default a message cut at 300 characters
 */
export function readableReason(err: CaughtError | undefined, run: FailedRun, maxMessage = 300): string {
  const { name, message } = unwrapCause(err);
  const old = run.oldPrimary ?? 'the old primary';
  const nodes = run.candidate ? `${old} -> ${run.candidate}` : `${old}, no candidate chosen`;
  if (SELF_EXPLAINING.has(name) && message) return `${run.mode} ${nodes} aborted at epoch ${run.epoch}: ${message}`;
  const short = cut(message, maxMessage, '…');
  const next =
    run.mode === 'failover'
      ? `find the node that should be primary (\`npx pgquorum status\`), then \`npx pgquorum resume --primary <node>\``
      : `check ${old} and ${run.candidate ?? 'the target'} (\`npx pgquorum status\`), then \`npx pgquorum resume --primary <the writable one>\``;
  return `${run.mode} ${nodes} aborted at epoch ${run.epoch}: ${what(name, short, run)}; next: ${next}`;
}

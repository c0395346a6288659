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

/** The error's name and message, out of whatever shape Step Functions or Lambda wrapped them in. */
export function unwrapCause(err: CaughtError | undefined): { name: string; message: string } {
  let name = err?.Error?.trim() || '';
  let message = err?.Cause?.trim() || '';
  // A Lambda failure's Cause is the JSON of {errorType, errorMessage, trace}; a timeout's may be plain text.
  if (message.startsWith('{')) {
    try {
      const j = JSON.parse(message) as Record<string, unknown>;
      const type = typeof j.errorType === 'string' ? j.errorType : '';
      const msg = typeof j.errorMessage === 'string' ? j.errorMessage : typeof j.message === 'string' ? j.message : '';
      if (type && (!name || name === 'Runtime.HandlerError' || name.startsWith('States.'))) name = type;
      message = msg || message;
    } catch {
      // Not JSON after all: keep the text.
    }
  }
  // Runtime.HandlerError, and the routing names our tasks throw (Pgq.Fatal, Pgq.Retriable: toStepError), hide
  // the real name in the message ("NodeUnreachableError: pg2 ...").
  const prefixed = /^([A-Z][A-Za-z]*Error):\s*(.*)$/s.exec(message);
  const wrapper = name === 'Runtime.HandlerError' || name.startsWith('Pgq.');
  if (prefixed && (!name || wrapper || name === prefixed[1])) {
    name = prefixed[1]!;
    message = prefixed[2]!;
  }
  return { name: name || 'unknown error', message: message.replace(/\s+/g, ' ').trim() };
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
  const short = message.length > maxMessage ? `${message.slice(0, maxMessage - 1)}…` : message;
  const next =
    run.mode === 'failover'
      ? `find the node that should be primary (\`npx pgquorum status\`), then \`npx pgquorum resume --primary <node>\``
      : `check ${old} and ${run.candidate ?? 'the target'} (\`npx pgquorum status\`), then \`npx pgquorum resume --primary <the writable one>\``;
  return `${run.mode} ${nodes} aborted at epoch ${run.epoch}: ${what(name, short, run)}; next: ${next}`;
}

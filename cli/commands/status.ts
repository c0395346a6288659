import type { CliContext } from '../context';
import { formatStatus } from '../format';
import type { Output } from '../output';
import { gatherStatus, type StatusSnapshot } from '../status';

/** Options of `status`. */
export interface StatusOptions {
  readonly watch?: boolean;
  /** Seconds between refreshes with --watch. */
  readonly interval?: number;
}

/** What a watch loop needs besides the output: injectable so tests drive it without a clock or a cluster. */
export interface WatchDeps {
  gather(): Promise<StatusSnapshot>;
  /** Stops the loop (Ctrl-C, or a test). */
  readonly signal?: AbortSignal;
  /** Redraw in place with escape codes only on a terminal: piped output stays plain. */
  readonly tty: boolean;
  sleep?(ms: number, signal?: AbortSignal): Promise<void>;
  now?(): number;
}

const abortableSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/**
 * Refreshes every `everyMs` until aborted; returns how many refreshes it drew.
 * A failed refresh prints one line and the loop goes on: a store blip is when
 * an operator watches most.
 */
export async function watchStatus(out: Output, everyMs: number, deps: WatchDeps): Promise<number> {
  const sleep = deps.sleep ?? abortableSleep;
  const now = deps.now ?? Date.now;
  let drawn = 0;
  while (!deps.signal?.aborted) {
    const t0 = now();
    try {
      const s = await deps.gather();
      if (out.json) out.result(s);
      else {
        const screen = `${formatStatus(s)}\n\n(refreshing every ${everyMs / 1000} s; Ctrl-C to stop)`;
        // Clear and home the cursor: the table redraws in place like `watch`.
        out.result(s, deps.tty ? `\x1b[2J\x1b[H${screen}` : screen);
      }
      drawn++;
    } catch (err) {
      out.note(`status unavailable: ${(err as Error).message.split('\n')[0]}`);
    }
    if (deps.signal?.aborted) break;
    await sleep(Math.max(0, everyMs - (now() - t0)), deps.signal);
  }
  return drawn;
}

/** `status [--watch]`: one snapshot, or a refreshing screen (one JSON document per refresh with --json). */
export async function statusCommand(ctx: CliContext, o: StatusOptions, out: Output): Promise<StatusSnapshot | number> {
  if (!o.watch) {
    const s = await gatherStatus(ctx);
    out.result(s, formatStatus(s));
    return s;
  }
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.once('SIGINT', onSigint);
  try {
    return await watchStatus(out, Math.max(0.5, o.interval ?? 2) * 1000, {
      gather: () => gatherStatus(ctx),
      signal: stop.signal,
      tty: Boolean(process.stdout.isTTY) && !out.json,
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
}

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `status [--watch]`: one snapshot, or a refreshing screen (one JSON document per refresh with --json). */
export async function statusCommand(ctx: CliContext, o: StatusOptions, out: Output): Promise<StatusSnapshot> {
  if (!o.watch) {
    const s = await gatherStatus(ctx);
    out.result(s, formatStatus(s));
    return s;
  }
  const everyMs = Math.max(0.5, o.interval ?? 2) * 1000;
  for (;;) {
    const t0 = Date.now();
    try {
      const s = await gatherStatus(ctx);
      if (out.json) out.result(s);
      // Clear and home the cursor: the table redraws in place like `watch`.
      else out.result(s, `\x1b[2J\x1b[H${formatStatus(s)}\n\n(refreshing every ${everyMs / 1000} s; Ctrl-C to stop)`);
    } catch (err) {
      // A watch survives a store blip (that is when an operator watches most): show it and keep going.
      out.note(`status unavailable: ${(err as Error).message.split('\n')[0]}`);
    }
    await sleep(Math.max(0, everyMs - (Date.now() - t0)));
  }
}

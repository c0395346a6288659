import type { EventRecord } from '../../lambdas/ports/store-port';
import type { CliContext } from '../context';
import { UsageError } from '../errors';
import { formatEvent, formatHistory, summarizeEvent } from '../format';
import type { Output } from '../output';

/** Options of `history`. */
export interface HistoryOptions {
  readonly limit?: number;
}

/** `history [id]`: the table of past runs, or one in full (id = its epoch). */
export async function historyCommand(
  ctx: CliContext,
  id: string | undefined,
  o: HistoryOptions,
  out: Output,
): Promise<EventRecord[]> {
  if (id !== undefined) {
    if (!/^\d+$/.test(id)) throw new UsageError(`bad event id '${id}': use the epoch shown by \`pgquorum history\``);
    const e = await ctx.store.getEvent(Number(id));
    if (!e) throw new UsageError(`no event at epoch ${id} in cluster ${ctx.target.cluster}`);
    out.result({ ...e, summary: summarizeEvent(e) }, formatEvent(e));
    return [e];
  }
  const events = await ctx.store.listEvents(o.limit ?? 20);
  out.result(
    events.map((e) => ({ ...e, summary: summarizeEvent(e) })),
    formatHistory(events),
  );
  return events;
}

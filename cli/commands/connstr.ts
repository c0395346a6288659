import { type ConnectionString, type ConnstrFormat, connectionString } from '../connstr';
import type { CliContext } from '../context';
import { UsageError } from '../errors';
import type { Output } from '../output';

/** Options of `connstr`. */
export interface ConnstrCommandOptions {
  readonly reader?: boolean;
  readonly format?: ConnstrFormat;
  readonly dbname?: string;
  readonly user?: string;
  readonly connectTimeout?: number;
}

/**
 * `connstr`: a connection string over every node of the registry (the addresses the controller itself
 * connects to: private IPs on AWS, the gates in the lab), so clients need no DNS to follow a failover.
 */
export async function connstrCommand(
  ctx: CliContext,
  o: ConnstrCommandOptions,
  out: Output,
): Promise<ConnectionString> {
  const nodes = await ctx.store.listNodes();
  if (nodes.length === 0) throw new UsageError(`no nodes registered for cluster ${ctx.target.cluster}`);
  const lease = await ctx.store.getLease();
  const r = connectionString(
    nodes.map((n) => ({
      name: n.name,
      host: n.host,
      port: n.port,
      // The lease names the primary; the registry's role may lag a run in flight.
      role: n.name === lease.primary ? 'primary' : 'replica',
    })),
    {
      reader: o.reader,
      format: o.format,
      dbname: o.dbname,
      user: o.user,
      connectTimeoutSec: o.connectTimeout,
    },
  );
  out.result(r, r.connstr);
  return r;
}

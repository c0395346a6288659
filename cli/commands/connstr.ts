import { type ConnectionString, type ConnstrFormat, type ConnstrTls, connectionString, connstrTls } from '../connstr';
import { type CliContext, cliTlsMode } from '../context';
import { UsageError } from '../errors';
import type { Output } from '../output';

/** Options of `connstr`. */
export interface ConnstrCommandOptions {
  readonly reader?: boolean;
  readonly format?: ConnstrFormat;
  readonly dbname?: string;
  readonly user?: string;
  readonly connectTimeout?: number;
  /** The CA file on the client's machine, printed as `sslrootcert` (verify modes). */
  readonly sslrootcert?: string;
}

/**
 * `connstr`: a connection string over every node of the registry (the addresses the controller itself
 * connects to: private IPs on AWS, the gates in the lab), so clients need no DNS to follow a failover. It carries the
 * deployment's TLS mode, so a client checks the nodes' certificates as the controller does. A node with a
 * `tlsServerName` (a certificate without its IP; the stack output NodeTlsNames) is verified by that name: libpq and
 * URI strings then carry `host=<names> hostaddr=<ips>`. pgjdbc has no hostaddr: its string keeps the addresses, and
 * a warning says that those nodes will not verify under verify-full.
 */
export async function connstrCommand(
  ctx: CliContext,
  o: ConnstrCommandOptions,
  out: Output,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ConnectionString & { tls: ConnstrTls }> {
  const nodes = await ctx.store.listNodes();
  if (nodes.length === 0) throw new UsageError(`no nodes registered for cluster ${ctx.target.cluster}`);
  const lease = await ctx.store.getLease();
  const tls = connstrTls({ ...cliTlsMode(ctx.target, env), sslRootCert: o.sslrootcert });
  const r = connectionString(
    nodes.map((n) => ({
      name: n.name,
      host: n.host,
      port: n.port,
      // The lease names the primary; the registry's role may lag a run in flight.
      role: n.name === lease.primary ? 'primary' : 'replica',
      ...(ctx.target.nodeTlsNames?.[n.name] ? { tlsName: ctx.target.nodeTlsNames[n.name] } : {}),
    })),
    {
      reader: o.reader,
      format: o.format,
      dbname: o.dbname,
      user: o.user,
      connectTimeoutSec: o.connectTimeout,
      sslMode: tls.sslMode,
      ...(tls.sslRootCert ? { sslRootCert: tls.sslRootCert } : {}),
    },
  );
  if (tls.warning) out.warn(`warning: ${tls.warning}`);
  const named = nodes.filter((n) => ctx.target.nodeTlsNames?.[n.name]).map((n) => n.name);
  if (o.format === 'jdbc' && tls.sslMode === 'verify-full' && named.length) {
    out.warn(
      `warning: ${named.join(', ')} ${named.length === 1 ? 'carries' : 'carry'} a certificate name (tlsServerName) and pgjdbc cannot dial an address while verifying a name: those nodes fail verify-full through this string; use the libpq or URI format, or certificates with an IP SAN`,
    );
  }
  const result = { ...r, tls };
  out.result(result, r.connstr);
  return result;
}

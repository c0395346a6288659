/**
 * Connection strings over every node's address, so clients fail over without DNS: libpq (and pgjdbc) try the
 * hosts in turn and keep the first that matches the wanted role. The writer record follows a failover only after
 * Route 53 propagation plus the record's TTL; a multi-host string follows it as soon as the new primary accepts
 * connections.
 */

/** A string format. */
export const CONNSTR_FORMATS = ['libpq', 'uri', 'jdbc'] as const;

/** One of CONNSTR_FORMATS. */
export type ConnstrFormat = (typeof CONNSTR_FORMATS)[number];

/** A node as clients reach it. */
export interface ConnstrNode {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** As the registry has it: the primary goes first in the writer string, replicas first in the reader's. */
  readonly role: 'primary' | 'replica';
}

/** What to print. */
export interface ConnstrOptions {
  readonly reader?: boolean;
  /** @default 'libpq' */
  readonly format?: ConnstrFormat;
  /** @default 'postgres' */
  readonly dbname?: string;
  readonly user?: string;
  /**
   * Seconds per host attempt. A revoked security group drops packets, it does not refuse them: without a
   * timeout a client waits out the kernel's TCP retries (minutes) on the fenced node before trying the next.
   * @default 2
   */
  readonly connectTimeoutSec?: number;
}

/** The string, plus the hosts in the order it lists them. */
export interface ConnectionString {
  readonly kind: 'writer' | 'reader';
  readonly format: ConnstrFormat;
  readonly connstr: string;
  readonly hosts: readonly { name: string; host: string; port: number }[];
}

const libpqValue = (v: string) => (/^[^\s'\\]+$/.test(v) ? v : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`);
const hostPort = (n: ConnstrNode) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`;

/** Builds the writer or reader string in one format. */
export function connectionString(nodes: readonly ConnstrNode[], o: ConnstrOptions = {}): ConnectionString {
  const kind = o.reader ? 'reader' : 'writer';
  const format = o.format ?? 'libpq';
  const first = o.reader ? 'replica' : 'primary';
  // Stable sort: the wanted role first, then registry order (the rest are fallbacks).
  const ordered = [...nodes].sort((a, b) => Number(b.role === first) - Number(a.role === first));
  const dbname = o.dbname ?? 'postgres';
  const timeout = o.connectTimeoutSec ?? 2;
  const hosts = ordered.map((n) => ({ name: n.name, host: n.host, port: n.port }));
  let connstr: string;
  if (format === 'libpq') {
    const kv: [string, string][] = [
      ['host', ordered.map((n) => n.host).join(',')],
      ['port', ordered.map((n) => String(n.port)).join(',')],
      ['dbname', dbname],
      ...(o.user ? ([['user', o.user]] as [string, string][]) : []),
      ['connect_timeout', String(timeout)],
      ['target_session_attrs', o.reader ? 'prefer-standby' : 'read-write'],
      ...(o.reader ? ([['load_balance_hosts', 'random']] as [string, string][]) : []),
    ];
    connstr = kv.map(([k, v]) => `${k}=${libpqValue(v)}`).join(' ');
  } else if (format === 'uri') {
    const params = new URLSearchParams({
      connect_timeout: String(timeout),
      target_session_attrs: o.reader ? 'prefer-standby' : 'read-write',
      ...(o.reader ? { load_balance_hosts: 'random' } : {}),
    });
    const user = o.user ? `${encodeURIComponent(o.user)}@` : '';
    connstr = `postgresql://${user}${ordered.map(hostPort).join(',')}/${encodeURIComponent(dbname)}?${params}`;
  } else {
    // pgjdbc: connectTimeout is in seconds; loadBalanceHosts shuffles the hosts.
    const params = new URLSearchParams({
      targetServerType: o.reader ? 'preferSecondary' : 'primary',
      ...(o.reader ? { loadBalanceHosts: 'true' } : {}),
      connectTimeout: String(timeout),
      ...(o.user ? { user: o.user } : {}),
    });
    connstr = `jdbc:postgresql://${ordered.map(hostPort).join(',')}/${encodeURIComponent(dbname)}?${params}`;
  }
  return { kind, format, connstr, hosts };
}

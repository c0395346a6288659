/**
 * The one place a libpq keyword/value connection string is built: `primary_conninfo` (RepointReplicas), the
 * host scripts' PRIMARY_CONNINFO and pg_rewind's SOURCE_CONNINFO. It has no password field on purpose: a
 * conninfo ends up in postgresql.auto.conf (and so in every base backup and `SHOW primary_conninfo`), in SSM
 * command history and in Step Functions state, so the password always comes from a passfile on the host.
 */
export interface ConninfoFields {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly dbname?: string;
  readonly applicationName?: string;
  /** libpq's per-host connect timeout (s). */
  readonly connectTimeoutSec?: number;
  /**
   * The 0600 passfile on the host that holds the password (libpq `passfile`). A relative path is resolved from
   * the working directory of the process that connects: for a walreceiver that is the data directory.
   */
  readonly passfile?: string;
  /**
   * libpq TLS keywords as `keyword=value` (core/tls libpqTlsKeywords: sslmode, sslrootcert, and with a TLS server
   * name `host=<name> hostaddr=<ip>`), written last: libpq takes a repeated keyword's last value, so a server name
   * overrides the address given as `host`.
   */
  readonly tlsKeywords?: readonly string[];
}

/**
 * Quotes a conninfo value only when libpq needs it (empty, whitespace, a quote or a backslash): the SSM documents
 * refuse parameters with a single quote, and the plain values the controller sends have none.
 */
export function conninfoValue(v: string): string {
  if (v !== '' && !/[\s'\\]/.test(v)) return v;
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Builds a keyword/value conninfo in a fixed order; fields left out are not written. */
export function buildConninfo(f: ConninfoFields): string {
  const pairs: [string, string | number | undefined][] = [
    ['host', f.host],
    ['port', f.port],
    ['user', f.user],
    ['dbname', f.dbname],
    ['application_name', f.applicationName],
    ['passfile', f.passfile],
    ['connect_timeout', f.connectTimeoutSec],
  ];
  return [
    ...pairs
      .filter((p): p is [string, string | number] => p[1] !== undefined)
      .map(([k, v]) => `${k}=${typeof v === 'number' ? String(v) : conninfoValue(v)}`),
    ...(f.tlsKeywords ?? []),
  ].join(' ');
}

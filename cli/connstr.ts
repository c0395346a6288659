/**
 * Connection strings over every node's address, so clients fail over without DNS: libpq (and pgjdbc) try the
 * hosts in turn and keep the first that matches the wanted role. The writer record follows a failover only after
 * Route 53 propagation plus the record's TTL; a multi-host string follows it as soon as the new primary accepts
 * connections.
 */

import path from 'node:path';
import { caBundleKind, type DbSslMode, verifiesServer } from '../lambdas/core/tls';

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
  /**
   * The name the node's certificate carries instead of its address (tlsServerName). Under verify-full libpq then
   * gets `host=<name>` to verify and `hostaddr=<address>` to dial: no DNS still. @default none
   */
  readonly tlsName?: string;
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
  /**
   * The deployment's TLS mode, printed so a client that copies the string checks the server as the controller
   * does (libpq's default `prefer` can be downgraded to clear text). Absent: no TLS keyword is printed.
   */
  readonly sslMode?: DbSslMode;
  /** The CA file on the client's machine (`sslrootcert`), printed with a verify mode only. */
  readonly sslRootCert?: string;
}

/** The string, plus the hosts in the order it lists them. */
export interface ConnectionString {
  readonly kind: 'writer' | 'reader';
  readonly format: ConnstrFormat;
  readonly connstr: string;
  readonly hosts: readonly { name: string; host: string; port: number }[];
}

/**
 * The TLS parameters in libpq's names (libpq keyword/value and URI): `sslrootcert` only with a verify mode, since
 * libpq treats `require` with a root certificate as `verify-ca`, which would not be what the deployment says.
 */
function tlsParams(o: ConnstrOptions): [string, string][] {
  if (!o.sslMode) return [];
  const verifies = o.sslMode === 'verify-ca' || o.sslMode === 'verify-full';
  return [
    ['sslmode', o.sslMode],
    ...(verifies && o.sslRootCert ? ([['sslrootcert', o.sslRootCert]] as [string, string][]) : []),
  ];
}

/** pgjdbc's: `ssl=true` turns TLS on (its default is `prefer`), `sslmode` and `sslrootcert` as libpq's. */
function jdbcTlsParams(o: ConnstrOptions): [string, string][] {
  if (!o.sslMode) return [];
  return [...(o.sslMode === 'disable' ? [] : ([['ssl', 'true']] as [string, string][])), ...tlsParams(o)];
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
  // verify-full checks a name-only certificate against host=; hostaddr= keeps the dialing by address. Both lists
  // run in the same order and length (libpq pairs them), a node without a name repeating its address.
  const byName = o.sslMode === 'verify-full' && ordered.some((n) => n.tlsName);
  const hostaddr: [string, string][] = byName ? [['hostaddr', ordered.map((n) => n.host).join(',')]] : [];
  const verifyHost = (n: ConnstrNode) => (byName && n.tlsName ? n.tlsName : n.host);
  let connstr: string;
  if (format === 'libpq') {
    const kv: [string, string][] = [
      ['host', ordered.map(verifyHost).join(',')],
      ...hostaddr,
      ['port', ordered.map((n) => String(n.port)).join(',')],
      ['dbname', dbname],
      ...(o.user ? ([['user', o.user]] as [string, string][]) : []),
      ['connect_timeout', String(timeout)],
      ['target_session_attrs', o.reader ? 'prefer-standby' : 'read-write'],
      ...(o.reader ? ([['load_balance_hosts', 'random']] as [string, string][]) : []),
      ...tlsParams(o),
    ];
    connstr = kv.map(([k, v]) => `${k}=${libpqValue(v)}`).join(' ');
  } else if (format === 'uri') {
    const params = new URLSearchParams({
      ...Object.fromEntries(hostaddr),
      connect_timeout: String(timeout),
      target_session_attrs: o.reader ? 'prefer-standby' : 'read-write',
      ...(o.reader ? { load_balance_hosts: 'random' } : {}),
      ...Object.fromEntries(tlsParams(o)),
    });
    const user = o.user ? `${encodeURIComponent(o.user)}@` : '';
    const authority = ordered.map((n) => hostPort({ ...n, host: verifyHost(n) })).join(',');
    connstr = `postgresql://${user}${authority}/${encodeURIComponent(dbname)}?${params}`;
  } else {
    // pgjdbc: connectTimeout is in seconds; loadBalanceHosts shuffles the hosts.
    const params = new URLSearchParams({
      targetServerType: o.reader ? 'preferSecondary' : 'primary',
      ...(o.reader ? { loadBalanceHosts: 'true' } : {}),
      connectTimeout: String(timeout),
      ...(o.user ? { user: o.user } : {}),
      ...Object.fromEntries(jdbcTlsParams(o)),
    });
    connstr = `jdbc:postgresql://${ordered.map(hostPort).join(',')}/${encodeURIComponent(dbname)}?${params}`;
  }
  return { kind, format, connstr, hosts };
}

/** The TLS part of a printed string, and what the operator must still do for it to verify. */
export interface ConnstrTls {
  readonly sslMode: DbSslMode;
  /** An absolute path on this machine, when one is known. */
  readonly sslRootCert?: string;
  /** The CA's secret or parameter ARN when it is not a file here. */
  readonly caSource?: string;
  /** One sentence when the string as printed will not verify as the controller does without a step of the operator's. */
  readonly warning?: string;
}

/**
 * What TLS the printed string carries: the deployment's mode, with `sslrootcert` from `--sslrootcert`, else the
 * CA bundle when it is a file on this machine (the lab's; PGQ_DB_CA_BUNDLE). A CA held in a secret or parameter
 * cannot be named as a file, so the string then leaves `sslrootcert` out (libpq falls back to
 * ~/.postgresql/root.crt and refuses to connect without it: it fails closed) and the warning says how to fetch it.
 */
export function connstrTls(i: { mode: DbSslMode; caRef?: string; sslRootCert?: string }): ConnstrTls {
  if (!verifiesServer(i.mode)) {
    return {
      sslMode: i.mode,
      ...(i.sslRootCert
        ? { warning: `--sslrootcert ignored: the deployment's sslmode is ${i.mode}, which checks no certificate` }
        : {}),
    };
  }
  if (i.sslRootCert) return { sslMode: i.mode, sslRootCert: path.resolve(i.sslRootCert) };
  if (!i.caRef) {
    return {
      sslMode: i.mode,
      warning: `sslmode=${i.mode} and no CA is known here: pass --sslrootcert FILE (the nodes' CA), or libpq reads ~/.postgresql/root.crt`,
    };
  }
  const kind = caBundleKind(i.caRef);
  if (kind === 'file') return { sslMode: i.mode, sslRootCert: path.resolve(i.caRef) };
  const fetch =
    kind === 'secret'
      ? `aws secretsmanager get-secret-value --secret-id ${i.caRef} --query SecretString --output text`
      : `aws ssm get-parameter --name ${i.caRef} --query Parameter.Value --output text`;
  return {
    sslMode: i.mode,
    caSource: i.caRef,
    warning: `sslmode=${i.mode}: save the nodes' CA to a file (${fetch} > ca.pem) and pass --sslrootcert ca.pem, or libpq reads ~/.postgresql/root.crt`,
  };
}

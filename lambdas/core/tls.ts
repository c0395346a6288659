/**
 * TLS to the PostgreSQL nodes: one set of rules for every connection the controller makes or configures (the
 * functions, the probes, the CLI, and the libpq conninfo the host scripts use for replication, pg_rewind and
 * pg_basebackup). The modes are libpq's: `disable`, `require` (encrypt, trust any certificate), `verify-ca` (the
 * chain must lead to the configured CA) and `verify-full` (that, and the certificate must name the host).
 */

/** libpq's TLS modes that pgquorum supports. */
export const DB_SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;

/** One of {@link DB_SSL_MODES}. */
export type DbSslMode = (typeof DB_SSL_MODES)[number];

/**
 * A CA bundle source: an ARN of a Secrets Manager secret or an SSM parameter holding the PEM text, or a file path
 * (bundled with the functions).
 */
export type CaBundleKind = 'secret' | 'parameter' | 'file';

/** What kind of source `ref` names: an ARN says its service; anything else is a file path. */
export function caBundleKind(ref: string): CaBundleKind {
  if (/^arn:[^:]+:secretsmanager:/.test(ref)) return 'secret';
  if (/^arn:[^:]+:ssm:[^:]*:[^:]*:parameter\//.test(ref)) return 'parameter';
  return 'file';
}

/** True for the modes that check the server's certificate (and so need a CA). */
export function verifiesServer(mode: DbSslMode): boolean {
  return mode === 'verify-ca' || mode === 'verify-full';
}

/** A rule broken by a TLS configuration: the field it concerns and why. */
export interface TlsConfigProblem {
  readonly field: 'sslMode' | 'caBundle';
  readonly message: string;
}

/**
 * The effective mode: the one given, else `verify-full` when a CA is configured (a CA nobody checks against
 * protects nothing), else `require` (encrypted, unauthenticated: what deployments without a CA had before).
 */
export function effectiveSslMode(mode: DbSslMode | undefined, hasCa: boolean): DbSslMode {
  return mode ?? (hasCa ? 'verify-full' : 'require');
}

/**
 * The cross-field rules, shared by the deploy config (infra/config.ts) and the functions' environment
 * (lambdas/handlers/config.ts) so they cannot disagree. Empty when the combination is valid.
 */
export function tlsConfigProblems(mode: DbSslMode | undefined, caBundle: string | undefined): TlsConfigProblem[] {
  const m = effectiveSslMode(mode, !!caBundle);
  if (verifiesServer(m) && !caBundle) {
    return [
      {
        field: 'caBundle',
        message: `${m} checks the server's certificate against a CA: give the CA bundle (a PEM file, or a secret / SSM parameter ARN)`,
      },
    ];
  }
  if (m === 'disable' && caBundle) {
    return [
      {
        field: 'sslMode',
        message: 'disable sends everything in clear, so the CA bundle given would never be used: drop one of the two',
      },
    ];
  }
  return [];
}

/**
 * How one connection checks the server, as node's TLS needs it. `servername`: the name the certificate must carry
 * (SNI too); absent, node checks the address connected to, which for an IP address means an IP SAN.
 */
export interface TlsCheck {
  readonly encrypt: boolean;
  /** The chain must lead to the configured CA. */
  readonly verifyChain: boolean;
  /** The certificate must name the host (or `servername`). */
  readonly verifyIdentity: boolean;
  readonly servername?: string;
}

/** The checks a mode asks for, with the node's configured TLS server name (verify-full only). */
export function tlsCheck(mode: DbSslMode, serverName?: string): TlsCheck {
  return {
    encrypt: mode !== 'disable',
    verifyChain: verifiesServer(mode),
    verifyIdentity: mode === 'verify-full',
    ...(mode === 'verify-full' && serverName ? { servername: serverName } : {}),
  };
}

/**
 * The libpq keywords a host-side connection (primary_conninfo, pg_rewind's source, pg_basebackup) carries, so
 * libpq's default `prefer`, which an attacker can downgrade to clear text, is never used. `rootCertPath` is the CA
 * file on the host (not a secret). With a TLS server name, libpq dials `hostaddr` and checks the certificate
 * against `host`, so the builder passes both.
 */
export function libpqTlsKeywords(
  mode: DbSslMode,
  rootCertPath: string | undefined,
  target?: { readonly address: string; readonly serverName?: string },
): string[] {
  const kw = [`sslmode=${mode}`];
  if (verifiesServer(mode) && rootCertPath) kw.push(`sslrootcert=${rootCertPath}`);
  if (mode === 'verify-full' && target?.serverName) kw.push(`host=${target.serverName}`, `hostaddr=${target.address}`);
  return kw;
}

/**
 * The host a libpq client that connected with {@link libpqTlsKeywords} reports (`pg_stat_wal_receiver.sender_host`
 * is libpq's PQhost: `host` when set, so the TLS server name when one is configured, else the address). Anything
 * that matches a replica's upstream against a node must compare with this.
 */
export function libpqReportedHost(mode: DbSslMode, address: string, serverName?: string): string {
  return mode === 'verify-full' && serverName ? serverName : address;
}

/**
 * The three database roles pgquorum uses, each with PostgreSQL's documented minimum for its job (README,
 * "Security"). The lab's bootstrap runs these statements; on AWS an operator runs them once on the primary.
 */
export interface RoleNames {
  /** The controller: probes and state-machine steps. @default 'pgquorum' */
  readonly controller: string;
  /** Replicas stream and pg_basebackup copies as this role. @default 'replicator' */
  readonly replication: string;
  /** pg_rewind reads the new primary as this role. @default 'pgquorum_rewind' */
  readonly rewind: string;
}

/** The role names the stack's generated secrets carry. */
export const DEFAULT_ROLE_NAMES: RoleNames = {
  controller: 'pgquorum',
  replication: 'replicator',
  rewind: 'pgquorum_rewind',
};

/** The settings the controller changes with ALTER SYSTEM (RepointReplicas, the quorum fence, onNoSyncStandby). */
export const CONTROLLER_ALTER_SYSTEM_PARAMETERS = [
  'primary_conninfo',
  'primary_slot_name',
  'synchronous_standby_names',
] as const;

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * CREATE ROLE and GRANT statements for the three roles (PostgreSQL 15 or later), in order. Without `passwords`
 * the roles get none (set them with `\password`, so no password sits in a shell history or a script).
 */
export function roleSetupSql(
  names: RoleNames = DEFAULT_ROLE_NAMES,
  passwords?: { controller: string; replication: string; rewind: string },
  opts: { heartbeatTable?: string } = {},
): string[] {
  const pw = (k: keyof RoleNames) => (passwords ? ` PASSWORD ${literal(passwords[k])}` : '');
  const c = ident(names.controller);
  const rw = ident(names.rewind);
  return [
    // REPLICATION: pg_create_physical_replication_slot (the new primary's slots) needs it; nothing else here does.
    `CREATE ROLE ${c} LOGIN REPLICATION${pw('controller')}`,
    // Every column of pg_stat_wal_receiver and pg_stat_replication the probe reads (hidden from others).
    `GRANT pg_read_all_stats TO ${c}`,
    // The fence ends client sessions (pg_terminate_backend); never a superuser's.
    `GRANT pg_signal_backend TO ${c}`,
    // CHECKPOINT on a promoted source before pg_rewind (PostgreSQL 15).
    `GRANT pg_checkpoint TO ${c}`,
    `GRANT EXECUTE ON FUNCTION pg_catalog.pg_promote(boolean, integer) TO ${c}`,
    `GRANT EXECUTE ON FUNCTION pg_catalog.pg_reload_conf() TO ${c}`,
    // The timeline history file in pg_wal (a relative path: files outside the data directory stay refused).
    `GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_file(text) TO ${c}`,
    `GRANT ALTER SYSTEM ON PARAMETER ${CONTROLLER_ALTER_SYSTEM_PARAMETERS.join(', ')} TO ${c}`,
    `CREATE TABLE IF NOT EXISTS ${opts.heartbeatTable ?? 'pgquorum_heartbeat'} (id int PRIMARY KEY, at timestamptz NOT NULL, writer text)`,
    `GRANT SELECT, INSERT, UPDATE ON ${opts.heartbeatTable ?? 'pgquorum_heartbeat'} TO ${c}`,
    `CREATE ROLE ${ident(names.replication)} LOGIN REPLICATION${pw('replication')}`,
    // pg_rewind's documented grants (PostgreSQL docs, pg_rewind: "Notes"): not a superuser.
    `CREATE ROLE ${rw} LOGIN${pw('rewind')}`,
    `GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO ${rw}`,
    `GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO ${rw}`,
    `GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO ${rw}`,
    `GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO ${rw}`,
  ];
}

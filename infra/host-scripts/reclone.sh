#!/usr/bin/env bash
# Last resort of a rejoin: a fresh base backup from the new primary (the old data
# directory is kept aside, never deleted by this script). Version 1.
. "$(dirname "$0")/common.sh"
: "${SOURCE_HOST:?}" "${SOURCE_PORT:?}" "${REPL_USER:?}" "${PRIMARY_CONNINFO:?}" "${SLOT_NAME:?}"
write_passfile
ensure_db_ca
tls_env
if running; then eval "$STOP_IMMEDIATE_CMD"; fi
aside="$PGDATA.pre-reclone.$(date +%s)"
mv "$PGDATA" "$aside"
as_pg env PGPASSFILE="$PGPASSFILE" ${PGSSLMODE:+PGSSLMODE=$PGSSLMODE} ${PGSSLROOTCERT:+PGSSLROOTCERT=$PGSSLROOTCERT} "$PGBIN/pg_basebackup" -h "$SOURCE_HOST" -p "$SOURCE_PORT" \
  -U "$REPL_USER" -D "$PGDATA" -X stream -c fast
configure_standby "$PRIMARY_CONNINFO" "$SLOT_NAME"
eval "$START_CMD"
echo "STARTED=replica RECLONED=1 OLD_DATA=$aside"

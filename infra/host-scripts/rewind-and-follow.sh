#!/usr/bin/env bash
# Rejoins a fenced former primary: lists the transactions only it has (commits in
# its WAL after the divergence point), rewinds it to the new primary's timeline,
# configures it as a replica and starts it. Exit 3 means pg_rewind cannot work
# here and the controller should re-clone. Version 1.
. "$(dirname "$0")/common.sh"
: "${SOURCE_CONNINFO:?}" "${PRIMARY_CONNINFO:?}" "${SLOT_NAME:?}"
write_passfile
ensure_db_ca
if running; then eval "$STOP_IMMEDIATE_CMD"; fi
if [ -n "${DIVERGE_LSN:-}" ]; then
  # Every commit record on the old timeline past the switch point never reached the new primary.
  as_pg "$PGBIN/pg_waldump" -p "$PGDATA/pg_wal" -t "${OLD_TIMELINE:-1}" -s "$DIVERGE_LSN" -r Transaction 2>/dev/null \
    | grep -E 'desc: COMMIT' \
    | sed -E 's/.*tx: *([0-9]+), lsn: ([0-9A-F/]+).*desc: COMMIT ([^;]*).*/LOST: xid=\1 lsn=\2 at=\3/' || true
fi
if ! as_pg env PGPASSFILE="$PGPASSFILE" "$PGBIN/pg_rewind" --target-pgdata="$PGDATA" --source-server="$SOURCE_CONNINFO" --progress 2>&1; then
  echo "pg_rewind failed" >&2
  exit 3
fi
configure_standby "$PRIMARY_CONNINFO" "$SLOT_NAME"
eval "$START_CMD"
echo "STARTED=replica REWOUND=1"

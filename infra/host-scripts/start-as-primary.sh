#!/usr/bin/env bash
# Switchover rollback: starts the old primary, stopped by stop-postgres-fast before the target
# was promoted, again as the primary. Its shutdown checkpoint is the last WAL of the only timeline,
# so no rewind is needed. Refuses a data directory something turned into a standby meanwhile
# (standby.signal): then the controller does not know which history to keep. Idempotent: a running
# primary is success. Version 1.
. "$(dirname "$0")/common.sh"
if [ -f "$PGDATA/standby.signal" ] || [ -f "$PGDATA/recovery.signal" ]; then
  echo "refusing to start $PGDATA as primary: it has a standby.signal or recovery.signal" >&2
  exit 3
fi
if ! running; then eval "$START_CMD"; fi
if ! running; then echo "postgres is not running after start" >&2; exit 1; fi
echo "STARTED=primary"

#!/usr/bin/env bash
# Restarts a cleanly stopped former primary as a replica of PRIMARY_CONNINFO
# (after a switchover no rewind is needed: it stopped at a shutdown checkpoint the
# new primary has replayed). Version 1.
. "$(dirname "$0")/common.sh"
: "${PRIMARY_CONNINFO:?}" "${SLOT_NAME:?}"
write_passfile
ensure_db_ca
if running; then eval "$STOP_FAST_CMD"; fi
configure_standby "$PRIMARY_CONNINFO" "$SLOT_NAME"
eval "$START_CMD"
echo "STARTED=replica"

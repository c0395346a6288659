#!/usr/bin/env bash
# Planned switchover: a fast shutdown writes a shutdown checkpoint; its location
# is the last WAL this primary will ever write, printed for the controller to
# wait on. Version 1.
. "$(dirname "$0")/common.sh"
if running; then eval "$STOP_FAST_CMD"; fi
if running; then echo "postgres still running after fast stop" >&2; exit 1; fi
as_pg "$PGBIN/pg_controldata" -D "$PGDATA"

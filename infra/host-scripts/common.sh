# Shared by every pgquorum host script (sourced). Parameters arrive as environment
# variables, so SSM (on EC2) and the lab's local executor run the same text.
#   PGDATA, PGBIN           data directory and PostgreSQL binaries
#   START_CMD               how this host starts PostgreSQL (default: Debian's pg_ctlcluster)
#   STOP_FAST_CMD, STOP_IMMEDIATE_CMD
set -euo pipefail
: "${PGDATA:?PGDATA is required}"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
PG_CLUSTER="${PG_CLUSTER:-15 main}"
START_CMD="${START_CMD:-pg_ctlcluster $PG_CLUSTER start}"
STOP_FAST_CMD="${STOP_FAST_CMD:-pg_ctlcluster $PG_CLUSTER stop -m fast}"
STOP_IMMEDIATE_CMD="${STOP_IMMEDIATE_CMD:-pg_ctlcluster $PG_CLUSTER stop -m immediate}"

# PostgreSQL refuses to run as root; SSM runs scripts as root.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

running() { as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }

# Writes standby.signal and the upstream into postgresql.auto.conf (replacing old values).
configure_standby() {
  local conninfo="$1" slot="$2" auto="$PGDATA/postgresql.auto.conf"
  as_pg touch "$PGDATA/standby.signal" "$auto"
  as_pg sed -i -E '/^\s*(primary_conninfo|primary_slot_name)\s*=/d' "$auto"
  printf "primary_conninfo = '%s'\nprimary_slot_name = '%s'\n" "${conninfo//\'/\'\'}" "$slot" | as_pg tee -a "$auto" >/dev/null
}

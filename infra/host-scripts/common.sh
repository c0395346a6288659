# Shared by every pgquorum host script (sourced). Parameters arrive as environment
# variables, so SSM (on EC2) and the lab's SSM service (lab/ssm-service.ts) run the same text.
#   PGDATA, PGBIN           data directory and PostgreSQL binaries
#   START_CMD               how this host starts PostgreSQL (default: Debian's pg_ctlcluster)
#   STOP_FAST_CMD, STOP_IMMEDIATE_CMD
#   DB_USER, REPL_USER      roles the passfile holds passwords for
#   SECRET_ID               Secrets Manager secret with the passwords (read with the instance role), or
#   DB_PASSWORD, REPL_PASSWORD  the passwords themselves, as environment only (the lab's hosts)
# Passwords never arrive as parameters: SSM keeps parameters in its command history.
set -euo pipefail
: "${PGDATA:?PGDATA is required}"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
PG_CLUSTER="${PG_CLUSTER:-15 main}"
START_CMD="${START_CMD:-pg_ctlcluster $PG_CLUSTER start}"
STOP_FAST_CMD="${STOP_FAST_CMD:-pg_ctlcluster $PG_CLUSTER stop -m fast}"
STOP_IMMEDIATE_CMD="${STOP_IMMEDIATE_CMD:-pg_ctlcluster $PG_CLUSTER stop -m immediate}"

# PostgreSQL refuses to run as root; SSM runs scripts as root.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# The passfile sits next to the data directory, not in it: pg_rewind and pg_basebackup replace PGDATA's contents.
PGQ_PASSFILE="${PGQ_PASSFILE:-$(dirname "$PGDATA")/.pgpass-pgquorum}"

# Escapes a pgpass field (backslash and colon are special there).
pgpass_field() { local v="${1//\\/\\\\}"; printf '%s' "${v//:/\\:}"; }

# Writes the passfile (mode 0600, owned by the server's user) the scripts and the replica's walreceiver use.
write_passfile() {
  if [ -z "${DB_PASSWORD:-}" ] && [ -z "${REPL_PASSWORD:-}" ] && [ -n "${SECRET_ID:-}" ]; then
    local secret
    secret="$(aws secretsmanager get-secret-value --secret-id "$SECRET_ID" --query SecretString --output text)"
    eval "$(printf '%s' "$secret" | python3 -c 'import json, shlex, sys
s = json.load(sys.stdin)
print("DB_PASSWORD=" + shlex.quote(s["password"]))
print("REPL_PASSWORD=" + shlex.quote(s.get("replicationPassword") or s["password"]))')"
  fi
  : "${DB_PASSWORD:?no DB_PASSWORD and no SECRET_ID to read it from}"
  local lines
  lines="*:*:*:$(pgpass_field "${REPL_USER:?}"):$(pgpass_field "${REPL_PASSWORD:-$DB_PASSWORD}")
*:*:*:$(pgpass_field "${DB_USER:?}"):$(pgpass_field "$DB_PASSWORD")"
  printf '%s\n' "$lines" | as_pg sh -c 'umask 077; cat > "$1"' _ "$PGQ_PASSFILE"
  export PGPASSFILE="$PGQ_PASSFILE"
}

running() { as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }

# Writes standby.signal and the upstream into postgresql.auto.conf (replacing old values); the password comes from
# the passfile, so it is neither in the conninfo the controller sent nor in the configuration file.
configure_standby() {
  local conninfo="$1 passfile=$PGQ_PASSFILE" slot="$2" auto="$PGDATA/postgresql.auto.conf"
  as_pg touch "$PGDATA/standby.signal" "$auto"
  as_pg sed -i -E '/^\s*(primary_conninfo|primary_slot_name)\s*=/d' "$auto"
  printf "primary_conninfo = '%s'\nprimary_slot_name = '%s'\n" "${conninfo//\'/\'\'}" "$slot" | as_pg tee -a "$auto" >/dev/null
}

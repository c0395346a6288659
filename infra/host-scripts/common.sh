# Shared by every pgquorum host script (sourced). Parameters arrive as environment
# variables, so SSM (on EC2) and the lab's SSM service (lab/ssm-service.ts) run the same text.
#   PGDATA, PGBIN           data directory and PostgreSQL binaries
#   START_CMD               how this host starts PostgreSQL (default: Debian's pg_ctlcluster)
#   STOP_FAST_CMD, STOP_IMMEDIATE_CMD
#   REPL_USER, REWIND_USER  roles the passfile holds passwords for (replication; pg_rewind's source)
#   SECRET_ID               the hosts' Secrets Manager secret with those passwords (read with the instance role), or
#   REPL_PASSWORD, REWIND_PASSWORD  the passwords themselves, as environment only (the lab's hosts)
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

# Writes the passfile (mode 0600, owned by the server's user) the scripts and the replica's walreceiver use. It holds
# the replication role's password and, when REWIND_USER is set, the rewind role's: never the controller's, which
# lives in a secret the hosts cannot read.
write_passfile() {
  if [ -z "${REPL_PASSWORD:-}" ] && [ -z "${REWIND_PASSWORD:-}" ] && [ -n "${SECRET_ID:-}" ]; then
    local secret
    secret="$(aws secretsmanager get-secret-value --secret-id "$SECRET_ID" --query SecretString --output text)"
    eval "$(printf '%s' "$secret" | python3 -c 'import json, shlex, sys
s = json.load(sys.stdin)
print("REPL_PASSWORD=" + shlex.quote(s.get("replicationPassword") or ""))
print("REWIND_PASSWORD=" + shlex.quote(s.get("rewindPassword") or s.get("replicationPassword") or ""))')"
  fi
  : "${REPL_PASSWORD:?no REPL_PASSWORD and no SECRET_ID to read it from}"
  local lines
  lines="*:*:*:$(pgpass_field "${REPL_USER:?}"):$(pgpass_field "$REPL_PASSWORD")"
  if [ -n "${REWIND_USER:-}" ]; then
    lines="$lines
*:*:*:$(pgpass_field "$REWIND_USER"):$(pgpass_field "${REWIND_PASSWORD:?no REWIND_PASSWORD for REWIND_USER}")"
  fi
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

# Shared by every pgquorum host script (sourced). Parameters arrive as environment
# variables, so SSM (on EC2) and the lab's SSM service (lab/world/ssm-service.ts) run the same text.
#   PGDATA, PGBIN           data directory and PostgreSQL binaries
#   START_CMD               how this host starts PostgreSQL (default: Debian's pg_ctlcluster)
#   STOP_FAST_CMD, STOP_IMMEDIATE_CMD
#   REPL_USER, REWIND_USER  roles the passfile holds passwords for (replication; pg_rewind's source)
#   SECRET_ID               the hosts' Secrets Manager secret with those passwords (read with the instance role), or
#   REPL_PASSWORD, REWIND_PASSWORD  the passwords themselves, as environment only (the lab's hosts)
# Passwords never arrive as parameters: SSM keeps parameters in its command history.
#   PGQ_DB_SSLMODE          TLS mode of this host's connections to the primary (deploy-time constant)
#   PGQ_DB_CA_FILE          the CA bundle on this host (the conninfo's sslrootcert)
#   PGQ_DB_CA_SOURCE        SSM parameter or secret ARN the bundle is written from when the file is missing
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
  # What the file held before (missing, stale after a rotation, or current): the re-point's fallback reads it to
  # tell a replica that could not authenticate from one that failed otherwise. Compared here, never printed.
  if ! as_pg test -e "$PGQ_PASSFILE"; then PGQ_PASSFILE_STATE=missing
  elif printf '%s\n' "$lines" | as_pg cmp -s - "$PGQ_PASSFILE"; then PGQ_PASSFILE_STATE=current
  else PGQ_PASSFILE_STATE=stale; fi
  printf '%s\n' "$lines" | as_pg sh -c 'umask 077; cat > "$1"' _ "$PGQ_PASSFILE"
  export PGPASSFILE="$PGQ_PASSFILE"
}

# Makes sure the CA bundle the conninfo's sslrootcert names exists (world-readable: a CA is no secret). An existing
# file is kept, so a host provisioned with its own copy (or the lab's) never calls AWS for it.
ensure_db_ca() {
  case "${PGQ_DB_SSLMODE:-}" in verify-ca|verify-full) ;; *) return 0 ;; esac
  : "${PGQ_DB_CA_FILE:?PGQ_DB_CA_FILE is required with sslmode $PGQ_DB_SSLMODE}"
  [ -s "$PGQ_DB_CA_FILE" ] && return 0
  : "${PGQ_DB_CA_SOURCE:?no CA bundle at $PGQ_DB_CA_FILE and no PGQ_DB_CA_SOURCE to write it from}"
  local pem
  case "$PGQ_DB_CA_SOURCE" in
    arn:*:secretsmanager:*) pem="$(aws secretsmanager get-secret-value --secret-id "$PGQ_DB_CA_SOURCE" --query SecretString --output text)" ;;
    *) pem="$(aws ssm get-parameter --name "$PGQ_DB_CA_SOURCE" --with-decryption --query Parameter.Value --output text)" ;;
  esac
  case "$pem" in *"BEGIN CERTIFICATE"*) ;; *) echo "$PGQ_DB_CA_SOURCE holds no PEM certificate" >&2; return 1 ;; esac
  mkdir -p "$(dirname "$PGQ_DB_CA_FILE")"
  printf '%s\n' "$pem" > "$PGQ_DB_CA_FILE.tmp" && chmod 0644 "$PGQ_DB_CA_FILE.tmp" && mv "$PGQ_DB_CA_FILE.tmp" "$PGQ_DB_CA_FILE"
}

# libpq reads these where a tool takes no conninfo (pg_basebackup -h/-p/-U): never libpq's downgradable `prefer`.
tls_env() {
  if [ -n "${PGQ_DB_SSLMODE:-}" ]; then export PGSSLMODE="$PGQ_DB_SSLMODE"; fi
  case "${PGQ_DB_SSLMODE:-}" in verify-ca|verify-full) export PGSSLROOTCERT="${PGQ_DB_CA_FILE:?}" ;; esac
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

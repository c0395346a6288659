#!/usr/bin/env bash
# Writes (or refreshes, after a password rotation) this host's passfile, which the primary_conninfo a re-point
# writes names. Run on every node by the stack's State Manager association, so the passfile exists before the
# first failover ever re-points this node, and by a re-point whose replica did not stream (PASSFILE_STATE says what
# the file held before: missing, stale or current). Version 2.
. "$(dirname "$0")/common.sh"
: "${REPL_USER:?}"
write_passfile
echo "PASSFILE=$PGQ_PASSFILE PASSFILE_STATE=$PGQ_PASSFILE_STATE"

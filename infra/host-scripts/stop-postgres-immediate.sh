#!/usr/bin/env bash
# Fence, second layer: an immediate stop ends every established session at once
# (security-group revocation does not: EC2 connection tracking keeps them).
# Succeeds when PostgreSQL is already down. Version 1.
. "$(dirname "$0")/common.sh"
if running; then eval "$STOP_IMMEDIATE_CMD"; fi
if running; then echo "postgres still running after immediate stop" >&2; exit 1; fi
echo "STOPPED=immediate"

#!/usr/bin/env bash
# Installs the pinned ministack (a LocalStack-compatible AWS emulator that needs
# no Docker) into the project-local virtualenv .venv. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="$(cat lab/emulator-version)"
if [ -x .venv/bin/ministack ] && .venv/bin/pip show ministack 2>/dev/null | grep -qx "Version: $VERSION"; then
  exit 0
fi
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check "ministack==$VERSION"
